"""Small hand-made pipeline files, for tests that rewrite sources while serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graph.sources import tables

FEATURES = tables.CATALOG.source
PREDICTIONS = tables.PREDICTIONS.source
ODDS = tables.ODDS.source
ROI = tables.ROI.source


def catalog(n: int, *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) // 3, unit="h")
    frame = pd.DataFrame(
        {
            "startTimeUtc": start,
            "homeTeamName": [f"Home {i % 17}" for i in range(n)],
            "awayTeamName": [f"Away {i % 13}" for i in range(n)],
            "region": [f"Region {i % 5}" for i in range(n)],
            "tournamentName": "Cup",
            "sex": np.arange(n) % 2,
            "is_future": np.arange(n) >= n - n // 10,
            "homeScore": rng.integers(0, 4, n).astype(float),
            "awayScore": rng.integers(0, 4, n).astype(float),
            "outcome_1x2": rng.integers(0, 3, n).astype(float),
            "diff_goals_w5": rng.normal(size=n),
        },
        index=pd.Index(np.arange(1, n + 1, dtype=np.int64), name="match_id"),
    )
    return frame


def predictions(ids: pd.Index, *, run_id: str) -> pd.DataFrame:
    n = len(ids)
    proba = np.tile([0.5, 0.3, 0.2], (n, 1))
    return pd.DataFrame(
        {
            "proba_home": proba[:, 0],
            "proba_draw": proba[:, 1],
            "proba_away": proba[:, 2],
            "predicted_class": 0,
            "predicted_label": "home",
            "model_run_id": run_id,
            "model_stage": "champion",
        },
        index=ids,
    )


def write(root: Path, relative: str, frame: pd.DataFrame) -> None:
    """Write atomically, as the pipeline (and our storage) does."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-test")
    if relative.endswith(".csv"):
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp)
    tmp.replace(path)


def write_set(root: Path, n: int, *, run_id: str = "run-a") -> pd.DataFrame:
    """A complete small data set; returns the catalogue."""
    frame = catalog(n)
    write(root, FEATURES, frame)
    write(root, PREDICTIONS, predictions(frame.index, run_id=run_id))
    odds = pd.DataFrame({"odd_home": 1.9, "odd_draw": 3.2, "odd_away": 4.1}, index=frame.index)
    write(root, ODDS, odds)
    roi = pd.DataFrame({"region": ["Region 0"], "n_bets": [10], "roi": [0.1], "profit": [1.0]})
    write(root, ROI, roi)
    return frame
