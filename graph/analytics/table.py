"""Predictions, odds and results joined on the catalogue's rows, once per data version."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import numpy as np

from graph.analytics.cache import TABLES
from graph.analytics.value import Values, values
from graph.sources.keyed import KeyedTable
from graph.sources.snapshots import SnapshotSet, Sources
from graph.sources.tables import PRICE_ARRAY, PROBA_ARRAY, TRAINED_UNTIL_NS, UNKNOWN_NS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MatchTable:
    """Numeric columns aligned on catalogue positions (start time, then match id).

    Missing values: NaN probabilities and prices, outcome -1, UNKNOWN_NS window.
    """

    proba: np.ndarray  # (n, 3)
    has_prediction: np.ndarray  # bool
    prices: np.ndarray  # (n, 3)
    trained_until_ns: np.ndarray  # int64
    finished: np.ndarray  # bool: both scores known
    outcome: np.ndarray  # int64: 0 home, 1 draw, 2 away; -1 unless finished
    value: Values


def match_table(data: SnapshotSet) -> MatchTable:
    """The table of `data`'s version (built on first use, shared by requests)."""
    return TABLES.get(("match-table", data.version), lambda: build_match_table(data))


async def keep_tables_warm(sources: Sources) -> None:
    """Join the table of every snapshot set that goes into service, in a thread, as it
    arrives: requests (`matches(minEdge:)` above all) then find it built instead of
    joining it on the event loop (0.2 s at 500,000 matches)."""
    async for _change in sources.changes.follow():
        try:
            data = await sources.current()
            await TABLES.get_async(("match-table", data.version), partial(build_match_table, data))
        except Exception:  # a bad table is the requests' error to report, not this task's end
            log.exception("could not join the analytics table of the new snapshot set")


def build_match_table(data: SnapshotSet) -> MatchTable:
    catalog = data.catalog
    ids = catalog.ids
    proba, found = _gather(data.predictions, PROBA_ARRAY, ids, np.nan)
    window, _ = _gather(data.predictions, TRAINED_UNTIL_NS, ids, UNKNOWN_NS)
    prices, _ = _gather(data.odds, PRICE_ARRAY, ids, np.nan)
    finished = ~np.isnan(catalog.home_goals) & ~np.isnan(catalog.away_goals)
    return MatchTable(
        proba=proba,
        has_prediction=found,
        prices=prices,
        trained_until_ns=window.astype(np.int64),
        finished=finished,
        outcome=_outcomes(catalog.home_goals, catalog.away_goals, catalog.outcome_codes, finished),
        value=values(proba, prices),
    )


def values_at(data: SnapshotSet, positions: np.ndarray) -> Values:
    """The values of some catalogue rows: the table's rows when it is built, else the same
    computation on these rows only (a page need not wait for the whole catalogue)."""
    table = TABLES.peek(("match-table", data.version))
    if isinstance(table, MatchTable):
        v = table.value
        return Values(
            v.ok[positions], v.edges[positions], v.best[positions], v.best_edge[positions],
            v.kelly[positions],
        )  # fmt: skip
    ids = data.catalog.ids[positions]
    proba, _ = _gather(data.predictions, PROBA_ARRAY, ids, np.nan)
    prices, _ = _gather(data.odds, PRICE_ARRAY, ids, np.nan)
    return values(proba, prices)


def _gather(
    table: KeyedTable, name: str, ids: np.ndarray, missing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Column `name` of `table` (predictions or odds) at match `ids`, `missing` where absent."""
    column = table.columns.get(name)
    n = len(ids)
    shape = (n, *(column.shape[1:] if column is not None else ()))
    if column is None or len(table) == 0 or n == 0:
        return np.full(shape, missing), np.zeros(n, dtype=bool)
    at = table.positions(ids)
    found = at >= 0
    out = column[np.where(found, at, 0)]
    out[~found] = missing
    return out, found


def _outcomes(
    home: np.ndarray, away: np.ndarray, recorded: np.ndarray, finished: np.ndarray
) -> np.ndarray:
    """The file's outcome_1x2 where it has one (what `Match.outcome` shows), else the scores'."""
    from_scores = np.where(home > away, 0, np.where(home == away, 1, 2))
    known = np.isin(recorded, (0.0, 1.0, 2.0))
    outcome = np.where(known, np.nan_to_num(recorded, nan=0.0).astype(np.int64), from_scores)
    return np.where(finished, outcome, -1).astype(np.int64)
