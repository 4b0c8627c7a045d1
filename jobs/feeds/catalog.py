"""Live scores of the catalogue's finished matches (the demo fills its table with these)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.sources.livescore_models import LiveScoreRow
from graph.sources.livescores import LiveScoreRepository
from graph.taskqueue.results import IngestResult

FINISHED = "FT"


async def fill_livescores_from_catalog(
    repository: LiveScoreRepository, catalog: pd.DataFrame
) -> IngestResult:
    """Upsert a row (status "FT") per finished match of a match_features frame.

    Finished means not `is_future` and both scores known. Idempotent: the same
    catalogue again leaves every row unchanged.
    """
    rows = livescore_rows(catalog)
    counts = await repository.upsert(rows)
    return IngestResult(*counts, messages=[f"{len(rows)} finished matches of the catalogue"])


def livescore_rows(catalog: pd.DataFrame) -> list[LiveScoreRow]:
    frame = catalog.set_index("match_id") if "match_id" in catalog else catalog
    home = pd.to_numeric(frame["homeScore"], errors="coerce")
    away = pd.to_numeric(frame["awayScore"], errors="coerce")
    future = frame["is_future"].fillna(False).astype(bool)
    mask = (~future & home.notna() & away.notna()).to_numpy()
    finished = frame[mask]
    start = pd.to_datetime(finished["startTimeUtc"], utc=True)
    columns = zip(
        finished.index.to_numpy(dtype=np.int64).tolist(),
        [t.to_pydatetime() if pd.notna(t) else None for t in start],
        finished["homeTeamName"].astype(str).tolist(),
        finished["awayTeamName"].astype(str).tolist(),
        home[mask].astype("int64").tolist(),
        away[mask].astype("int64").tolist(),
        _optional_text(finished, "region"),
        _optional_text(finished, "tournamentName"),
        strict=True,
    )
    return [
        LiveScoreRow(match_id, start_time, h, a, hs, aws, FINISHED, region, tournament)
        for match_id, start_time, h, a, hs, aws, region, tournament in columns
    ]


def _optional_text(frame: pd.DataFrame, name: str) -> list[str | None]:
    if name not in frame:
        return [None] * len(frame)
    text = frame[name].astype("string")
    return [str(v) if present else None for v, present in zip(text, text.notna(), strict=True)]
