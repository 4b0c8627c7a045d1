"""Which matches count for calibration and backtests.

Finished matches (both scores known) with a prediction; by default only those
that started at or after the end of the training window of the model that made
the prediction (predictions.parquet's `model_trained_until`), so every figure is
out of sample. A prediction whose window is unknown (no such column, or NaT)
cannot be shown to be out of sample: it counts only with `include_training`.
A match without a start time counts only with `include_training` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from graph.analytics.table import MatchTable
from graph.errors import bad_input
from graph.sources.catalog import MatchCatalog, MatchFilter
from graph.sources.tables import UNKNOWN_NS

_NAT_LAST = np.iinfo(np.int64).max  # how the catalogue stores a missing start time


@dataclass(frozen=True, slots=True)
class Selection:
    """The filters shared by `calibration` and `backtest` (hashable: part of cache keys)."""

    region: str | None = None
    start_from: datetime | None = None  # inclusive
    start_to: datetime | None = None  # exclusive
    include_training: bool = False

    def check(self) -> None:
        if self.start_from and self.start_to and self.start_from >= self.start_to:
            raise bad_input("`from` must be before `to`")


def selected(catalog: MatchCatalog, table: MatchTable, selection: Selection) -> np.ndarray:
    """Catalogue positions that count, in start-time order (then match id)."""
    where = MatchFilter(
        region=selection.region, start_from=selection.start_from, start_to=selection.start_to
    )
    mask = catalog.mask(where) & table.finished & table.has_prediction
    if not selection.include_training:
        mask &= out_of_sample(catalog.start_ns, table.trained_until_ns)
    return np.flatnonzero(mask)


def out_of_sample(start_ns: np.ndarray, trained_until_ns: np.ndarray) -> np.ndarray:
    """Start time known, window known, and the start at or after the window's end."""
    known = (start_ns != _NAT_LAST) & (trained_until_ns != UNKNOWN_NS)
    return np.asarray(known & (start_ns >= trained_until_ns), dtype=bool)
