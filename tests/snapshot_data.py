"""A tiny hand-made snapshot set, loaded in-process, for tests of the graph's modules.

Rows are chosen for the edge cases: three matches share a start time (ordered by
id), one has only NaN features, predictions hold orphan rows (no catalogue row)
and a row with no class (dropped), odds are missing for some matches and partial
for one, one region has no ROI row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graph.sources.local import LocalStorage
from graph.sources.snapshots import SnapshotSet, Sources
from tests import datasets

T0 = pd.Timestamp("2026-03-01T12:00:00Z")
NAN = np.nan


def catalog() -> pd.DataFrame:
    def row(start: pd.Timestamp, home: str, away: str, region: str | None, **rest: object) -> dict:
        return {
            "startTimeUtc": start,
            "homeTeamName": home,
            "awayTeamName": away,
            "region": region,
            "tournamentName": "Cup",
            "sex": 0,
            "is_future": start > T0,
            **rest,
        }

    day = pd.Timedelta(days=1)
    rows = {
        10: row(T0, "Arsenal", "Chelsea", "England", diff_a=1.0, diff_b=NAN, homeScore=2.0,
                awayScore=1.0, outcome_1x2=0.0),
        20: row(T0, "Lyon", "Arsenal", "England", diff_a=NAN, diff_b=NAN),
        30: row(T0 - day, "Real Madrid", "Barcelona", "Spain", diff_a=0.5, diff_b=-0.5),
        40: row(T0 + day, "Benfica", "Porto", "Portugal", diff_a=2.0, diff_b=3.0),
        15: row(T0, "Ajax", "PSV", None, diff_a=-1.0, diff_b=0.0),
    }  # fmt: skip
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.Index(frame.index.astype(np.int64), name="match_id")
    return frame


ORDER = [30, 10, 15, 20, 40]  # by start time, the three at T0 by id


def predictions() -> pd.DataFrame:
    ids = [10, 30, 40, 20, 99, 98]
    frame = pd.DataFrame(
        {
            "proba_home": [0.5, 0.2, 0.3, 0.4, 0.6, 0.1],
            "proba_draw": [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
            "proba_away": [0.2, 0.5, 0.4, 0.3, 0.1, 0.6],
            # 20 has no class: the row is dropped, as if never predicted.
            "predicted_class": [0, 2, 2, NAN, 0, 2],
            "predicted_label": ["home", "away", "away", None, "home", "away"],
            "model_run_id": "run-a",
            "model_stage": "champion",
            # Orphans (99, 98) carry what a Match needs; 98 has no team names.
            "startTimeUtc": [T0, T0, T0, T0, T0 + pd.Timedelta(days=2), pd.NaT],
            "homeTeamName": ["Arsenal", "Real Madrid", "Benfica", "Lyon", "Orphan FC", None],
            "awayTeamName": ["Chelsea", "Barcelona", "Porto", "Arsenal", "Nobody", None],
            "is_future": [False, False, True, False, True, False],
        },
        index=pd.Index(np.array(ids, dtype=np.int64), name="match_id"),
    )
    return frame


ORPHANS = [98, 99]


def odds() -> pd.DataFrame:
    """10 with Fonbet ids, 30 without, 40 without a draw price; 15 and 20 have none."""
    return pd.DataFrame(
        {
            "odd_home": [1.9, 2.5, 1.5],
            "odd_draw": [3.2, 3.0, NAN],
            "odd_away": [4.1, 2.8, 6.0],
            "fonbet_event_id": [123.0, NAN, 456.0],
            "fonbet_sport_id": [7.0, NAN, NAN],
        },
        index=pd.Index(np.array([10, 30, 40], dtype=np.int64), name="match_id"),
    )


def roi() -> pd.DataFrame:
    """England and (lower-case) spain; Portugal has no row."""
    return pd.DataFrame(
        {
            "region": ["England", "spain"],
            "n_bets": [10, 4],
            "roi": [0.1, -0.25],
            "profit": [1.0, -1],
        }
    )


def write(root: Path, catalog_frame: pd.DataFrame | None = None) -> None:
    """The four tabular files under `root` (no drift report: not produced yet)."""
    datasets.write(root, datasets.FEATURES, catalog() if catalog_frame is None else catalog_frame)
    datasets.write(root, datasets.PREDICTIONS, predictions())
    datasets.write(root, datasets.ODDS, odds())
    datasets.write(root, datasets.ROI, roi())


async def load(root: Path) -> tuple[Sources, SnapshotSet]:
    """Sources over `root` (never re-checked on their own) and the set they serve."""
    sources = Sources(LocalStorage(root), refresh_seconds=3600)
    return sources, await sources.current()
