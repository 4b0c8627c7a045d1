"""Batch inference with the champion, plus a few orphan predictions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from graph.sources.tables import predictions_frame
from jobs.demo.models import CHAMPION, model_inputs
from jobs.demo.world import STREAM_ORPHANS, World, reference_now, stream

ORPHANS = (3, 5)  # inclusive range of orphan predictions per run


def predict(
    model: Any, frame: pd.DataFrame, *, run_id: str, trained_until: datetime | None
) -> pd.DataFrame:
    """predictions.parquet rows for `frame` (catalogue columns), indexed by match id."""
    proba = model.predict_proba(model_inputs(frame))
    return predictions_frame(
        frame, proba, run_id=run_id, stage=CHAMPION, trained_until=trained_until
    )


def orphan_fixtures(world: World, catalog: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Postponed fixtures the features file dropped: ids and rows absent from the catalogue.

    They have no features (NaN), so the champion predicts them from `sex` alone.
    """
    rng = stream(seed, STREAM_ORPHANS)
    count = int(rng.integers(ORPHANS[0], ORPHANS[1] + 1))
    now = pd.Timestamp(reference_now(seed))
    ids = int(catalog.index.max()) + np.cumsum(rng.integers(1, 40, count))
    rows = []
    for _ in range(count):
        tournament = world.tournaments[int(rng.integers(len(world.tournaments)))]
        home, away = rng.choice(tournament.team_ids, size=2, replace=False)
        rows.append(
            {
                "startTimeUtc": now + timedelta(days=int(rng.integers(3, 40)), hours=7),
                "homeTeamName": world.team_names[home],
                "awayTeamName": world.team_names[away],
                "region": tournament.region,
                "tournamentName": tournament.name,
                "sex": tournament.sex,
                "is_future": True,
            }
        )
    frame = pd.DataFrame(rows, index=pd.Index(ids.astype(np.int64), name="match_id"))
    return frame.reindex(columns=catalog.columns).astype(catalog.dtypes.to_dict())
