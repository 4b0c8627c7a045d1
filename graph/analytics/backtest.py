"""Backtests: replay bets on the matches that count, in start-time order (then match id).

The matches that count (selection.py) and have a value (all three odds): a bet
goes on the picked outcome when its edge is at least `min_edge`. FLAT stakes 1
unit; KELLY stakes `kelly_fraction` x the Kelly fraction of one running bankroll
that starts at BANKROLL (never more than the bankroll). A KELLY stake of 0 (an
edge that is not positive, or an empty bankroll) is no bet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from graph.analytics.cache import RESULTS
from graph.analytics.selection import Selection, selected
from graph.analytics.table import MatchTable, match_table
from graph.errors import bad_input
from graph.sources.snapshots import SnapshotSet

BANKROLL = 100.0
Pick = Literal["BEST_EDGE", "PREDICTED"]
Staking = Literal["FLAT", "KELLY"]


@dataclass(frozen=True, slots=True)
class BacktestArgs:
    min_edge: float = 0.0
    pick: Pick = "BEST_EDGE"
    staking: Staking = "FLAT"
    kelly_fraction: float = 1.0

    def check(self) -> None:
        if not math.isfinite(self.min_edge):
            raise bad_input("`minEdge` must be a finite number")
        if not 0.0 < self.kelly_fraction <= 1.0:
            raise bad_input(f"`kellyFraction` must be in (0, 1], got {self.kelly_fraction}")


@dataclass(frozen=True, slots=True)
class Totals:
    bets: int
    won: int
    staked: float
    profit: float

    @property
    def roi(self) -> float | None:
        return self.profit / self.staked if self.staked > 0 else None


@dataclass(frozen=True, slots=True)
class RegionTotals(Totals):
    region: str = ""


@dataclass(frozen=True, slots=True)
class BacktestResult(Totals):
    max_drawdown: float = 0.0
    by_region: tuple[RegionTotals, ...] = ()

    @property
    def hit_rate(self) -> float | None:
        return self.won / self.bets if self.bets else None


async def backtest(data: SnapshotSet, args: BacktestArgs, selection: Selection) -> BacktestResult:
    """Checked arguments, then the shared result for this data version and arguments."""
    selection.check()
    args.check()
    key = ("backtest", data.version, args, selection)
    return await RESULTS.get_async(key, lambda: compute_backtest(data, args, selection))


def compute_backtest(data: SnapshotSet, args: BacktestArgs, selection: Selection) -> BacktestResult:
    table = match_table(data)
    at = selected(data.catalog, table, selection)
    at = at[table.value.ok[at]]
    pick = _picks(table, at, args.pick)
    rows = np.arange(len(at))
    edge = table.value.edges[at][rows, pick]
    price = table.prices[at][rows, pick]
    won = table.outcome[at] == pick
    chosen = edge >= args.min_edge
    if args.staking == "FLAT":
        stake = chosen.astype(np.float64)
    else:
        stake = _kelly_stakes(edge, price, won, chosen, args.kelly_fraction)
    placed = stake > 0
    stake, won, at = stake[placed], won[placed], at[placed]
    profit = np.where(won, stake * (price[placed] - 1.0), -stake)
    cumulative = np.concatenate(([0.0], np.cumsum(profit)))
    drawdown = np.maximum.accumulate(cumulative) - cumulative
    return BacktestResult(
        bets=int(placed.sum()),
        won=int(won.sum()),
        staked=float(stake.sum()),
        profit=float(profit.sum()),
        max_drawdown=float(drawdown.max()),
        by_region=_by_region(data, at, won, stake, profit),
    )


def _picks(table: MatchTable, at: np.ndarray, pick: Pick) -> np.ndarray:
    if pick == "BEST_EDGE":
        chosen: np.ndarray = table.value.best[at]
    else:
        chosen = table.proba[at].argmax(axis=1)  # the predicted outcome (ties: the first)
    return chosen


def _kelly_stakes(
    edge: np.ndarray, price: np.ndarray, won: np.ndarray, chosen: np.ndarray, fraction: float
) -> np.ndarray:
    """Stakes of one running bankroll: each bet risks a share of what is left before it."""
    kelly = np.where(edge > 0, edge / (price - 1.0), 0.0)
    share = np.where(chosen, np.minimum(fraction * kelly, 1.0), 0.0)
    growth = 1.0 + share * np.where(won, price - 1.0, -1.0)
    before = BANKROLL * np.concatenate(([1.0], np.cumprod(growth)[:-1]))
    stake: np.ndarray = share * before
    return stake


def _by_region(
    data: SnapshotSet, at: np.ndarray, won: np.ndarray, stake: np.ndarray, profit: np.ndarray
) -> tuple[RegionTotals, ...]:
    """The same bets grouped by region (bets of matches without a region are left out)."""
    catalog = data.catalog
    codes = catalog.region_code[at]
    has = codes >= 0
    if not has.any():
        return ()
    codes, size = codes[has], max(catalog.region_codes.values()) + 1
    bets = np.bincount(codes, minlength=size)
    wins = np.bincount(codes, weights=won[has].astype(np.float64), minlength=size)
    staked = np.bincount(codes, weights=stake[has], minlength=size)
    profits = np.bincount(codes, weights=profit[has], minlength=size)
    spelling = {name.casefold(): name for name in data.region_names}
    out = [
        RegionTotals(
            bets=int(bets[code]),
            won=int(wins[code]),
            staked=float(staked[code]),
            profit=float(profits[code]),
            region=spelling.get(folded, folded),
        )
        for folded, code in catalog.region_codes.items()
        if bets[code]
    ]
    return tuple(sorted(out, key=lambda r: (r.region.casefold(), r.region)))
