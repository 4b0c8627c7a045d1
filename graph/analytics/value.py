"""The value of a bet on each outcome: model probability x decimal odd - 1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Values:
    """Per row: whether it has a value, the three edges, the best outcome, its edge and Kelly.

    Rows without a value (no prediction, or an odd missing, non-finite or <= 1)
    hold NaN edges, best 0 and NaN Kelly.
    """

    ok: np.ndarray  # bool (n,)
    edges: np.ndarray  # float64 (n, 3): home, draw, away
    best: np.ndarray  # int64 (n,): 0 home, 1 draw, 2 away (ties: the first)
    best_edge: np.ndarray  # float64 (n,)
    kelly: np.ndarray  # float64 (n,): full-Kelly stake fraction of `best`, 0 unless edge > 0


def values(proba: np.ndarray, prices: np.ndarray) -> Values:
    """Values of rows of class probabilities and decimal odds (both (n, 3), NaN: missing)."""
    proba = np.asarray(proba, dtype=np.float64).reshape(-1, 3)
    prices = np.asarray(prices, dtype=np.float64).reshape(-1, 3)
    ok = np.ones(len(proba), dtype=bool)
    with np.errstate(invalid="ignore"):
        for k in range(3):  # column by column: reductions across a row are slow in numpy
            ok &= np.isfinite(proba[:, k]) & np.isfinite(prices[:, k]) & (prices[:, k] > 1.0)
    safe_p = np.where(ok[:, None], proba, 0.0)
    safe_o = np.where(ok[:, None], prices, 2.0)
    edges = safe_p * safe_o - 1.0
    # The first largest edge: HOME, then DRAW, then AWAY on ties.
    best = np.where(edges[:, 1] > edges[:, 0], 1, 0)
    best = np.where(edges[:, 2] > np.maximum(edges[:, 0], edges[:, 1]), 2, best)
    rows = np.arange(len(best))
    best_edge = edges[rows, best]
    kelly = np.where(best_edge > 0, best_edge / (safe_o[rows, best] - 1.0), 0.0)
    nan = np.float64(np.nan)
    return Values(
        ok=ok,
        edges=np.where(ok[:, None], edges, nan),
        best=np.where(ok, best, 0).astype(np.int64),
        best_edge=np.where(ok, best_edge, nan),
        kelly=np.where(ok, kelly, nan),
    )
