"""Calibration of the predictions over the matches that count (selection.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.analytics.cache import RESULTS
from graph.analytics.selection import Selection, selected
from graph.analytics.table import match_table
from graph.errors import bad_input
from graph.sources.snapshots import SnapshotSet

MIN_BINS, MAX_BINS, DEFAULT_BINS = 2, 50, 10
CLIP = 1e-15  # log loss: probabilities are clipped to [CLIP, 1]


@dataclass(frozen=True, slots=True)
class Bin:
    lower: float
    upper: float
    count: int
    mean_predicted: float | None
    observed_rate: float | None


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    matches: int
    brier_score: float | None
    log_loss: float | None
    accuracy: float | None
    bins: tuple[Bin, ...]


def check_bins(bins: int) -> None:
    if not MIN_BINS <= bins <= MAX_BINS:
        raise bad_input(f"`bins` must be between {MIN_BINS} and {MAX_BINS}, got {bins}")


async def calibration(data: SnapshotSet, selection: Selection, bins: int) -> CalibrationResult:
    """Checked arguments, then the shared result for this data version and arguments."""
    selection.check()
    check_bins(bins)
    key = ("calibration", data.version, selection, bins)
    return await RESULTS.get_async(key, lambda: compute_calibration(data, selection, bins))


def compute_calibration(data: SnapshotSet, selection: Selection, bins: int) -> CalibrationResult:
    table = match_table(data)
    at = selected(data.catalog, table, selection)
    proba = table.proba[at]
    onehot = table.outcome[at][:, None] == np.arange(3)[None, :]
    n = len(at)
    if n == 0:
        return CalibrationResult(0, None, None, None, _bins(proba, onehot, bins))
    picked = proba[onehot]  # the probability of what happened, one per match
    return CalibrationResult(
        matches=n,
        brier_score=float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        log_loss=float(np.mean(-np.log(np.clip(picked, CLIP, 1.0)))),
        accuracy=float(np.mean(proba.argmax(axis=1) == table.outcome[at])),
        bins=_bins(proba, onehot, bins),
    )


def _bins(proba: np.ndarray, onehot: np.ndarray, bins: int) -> tuple[Bin, ...]:
    """Equal-width bins over [0, 1]: bin i holds [i/b, (i+1)/b), the last also 1.0.

    One-vs-rest over the three outcomes, pooled: each match adds three pairs.
    """
    edges = np.arange(bins + 1) / bins
    predicted = proba.ravel()
    observed = onehot.ravel().astype(np.float64)
    index = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=predicted, minlength=bins)
    hits = np.bincount(index, weights=observed, minlength=bins)
    out = []
    for i in range(bins):
        count = int(counts[i])
        out.append(
            Bin(
                lower=float(edges[i]),
                upper=float(edges[i + 1]),
                count=count,
                mean_predicted=float(sums[i] / count) if count else None,
                observed_rate=float(hits[i] / count) if count else None,
            )
        )
    return tuple(out)
