"""Calibration and backtests over the predictions: the schema side (graph/analytics computes)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from graph.analytics.backtest import BacktestArgs, BacktestResult, backtest
from graph.analytics.calibration import DEFAULT_BINS, Bin, CalibrationResult, calibration
from graph.analytics.selection import Selection
from graph.context import Info
from graph.cost.directives import ListSize

SELECTION_RULE = (
    "Matches that count: finished (both scores known) with a prediction and, unless "
    "`includeTraining`, that started at or after the end of the training window of the model "
    "that made the prediction (predictions.parquet's `model_trained_until`; a prediction "
    "without one counts only with `includeTraining`), so figures are out of sample. "
    "`region` (whole name, case-insensitive), `from` (inclusive) and `to` (exclusive) filter "
    "further; `from` not before `to` is BAD_USER_INPUT."
)
CALIBRATION_DESCRIPTION = (
    "How well the predicted probabilities match what happened. "
    + SELECTION_RULE
    + " `bins`: 2 to 50 equal-width bins over [0, 1]."
)
BACKTEST_DESCRIPTION = (
    "Replay bets on the matches that count and have all three odds, in start-time order "
    "(then match id): on the `pick` outcome when its edge is at least `minEdge`, staking "
    "FLAT 1 unit or KELLY (`kellyFraction` x the Kelly fraction of one running bankroll of "
    "100 units, at most the bankroll; a zero stake is no bet). " + SELECTION_RULE
)


@strawberry.enum(description="Which outcome of a match a backtest bets on.")
class Pick(Enum):
    BEST_EDGE = strawberry.enum_value("BEST_EDGE", description="The outcome with the best edge.")
    PREDICTED = strawberry.enum_value(
        "PREDICTED", description="The most probable outcome (as the pipeline's ROI file bets)."
    )


@strawberry.enum(description="How a backtest sizes its stakes.")
class Staking(Enum):
    FLAT = strawberry.enum_value("FLAT", description="1 unit per bet.")
    KELLY = strawberry.enum_value(
        "KELLY",
        description="`kellyFraction` x the Kelly fraction of a running bankroll of 100 units.",
    )


@strawberry.type(description="One equal-width bin of predicted probabilities.")
class CalibrationBin:
    lower: float = strawberry.field(description="Lowest probability of the bin (inclusive).")
    upper: float = strawberry.field(
        description="Upper end of the bin (exclusive; the last bin also holds 1.0)."
    )
    count: int = strawberry.field(
        description="Match-outcome pairs whose predicted probability falls in the bin."
    )
    mean_predicted: float | None = strawberry.field(
        description="Mean predicted probability of those pairs; null when the bin is empty."
    )
    observed_rate: float | None = strawberry.field(
        description="Share of those pairs whose outcome happened; null when the bin is empty."
    )

    @classmethod
    def of(cls, b: Bin) -> CalibrationBin:
        return cls(
            lower=b.lower,
            upper=b.upper,
            count=b.count,
            mean_predicted=b.mean_predicted,
            observed_rate=b.observed_rate,
        )


@strawberry.type(description="Calibration of the predictions over the matches that count.")
class Calibration:
    matches: int = strawberry.field(description="Matches that count.")
    brier_score: float | None = strawberry.field(
        description="Mean over matches of the sum over the three outcomes of (p - y)^2 (0 to 2); "
        "null without matches."
    )
    log_loss: float | None = strawberry.field(
        description="Mean of -ln(p of what happened), p clipped to [1e-15, 1]; null without "
        "matches."
    )
    accuracy: float | None = strawberry.field(
        description="Share of matches whose most probable outcome happened; null without matches."
    )
    bins: list[CalibrationBin] = strawberry.field(
        description="Reliability bins, one-vs-rest over the three outcomes pooled: the counts "
        "sum to 3 x `matches`.",
        directives=[ListSize(assumed_size=50)],  # at most 50; `calibration(bins:)` sizes it
    )

    @classmethod
    def of(cls, r: CalibrationResult) -> Calibration:
        return cls(
            matches=r.matches,
            brier_score=r.brier_score,
            log_loss=r.log_loss,
            accuracy=r.accuracy,
            bins=[CalibrationBin.of(b) for b in r.bins],
        )


@strawberry.type(description="A backtest's bets of one region (part of the same run).")
class RegionBacktest:
    region: str = strawberry.field(description="Region name.")
    bets: int = strawberry.field(description="Bets placed on its matches.")
    won: int = strawberry.field(description="Bets won.")
    staked: float = strawberry.field(description="Units staked.")
    profit: float = strawberry.field(description="Profit in units.")
    roi: float | None = strawberry.field(description="profit / staked; null when nothing staked.")


@strawberry.type(description="The result of replaying bets on past matches.")
class Backtest:
    bets: int = strawberry.field(description="Bets placed.")
    won: int = strawberry.field(description="Bets won.")
    staked: float = strawberry.field(description="Units staked.")
    profit: float = strawberry.field(description="Profit in units (losses negative).")
    roi: float | None = strawberry.field(description="profit / staked; null when nothing staked.")
    hit_rate: float | None = strawberry.field(description="won / bets; null without bets.")
    max_drawdown: float = strawberry.field(
        description="Largest peak-to-trough fall of the cumulative profit, in units."
    )
    by_region: list[RegionBacktest] = strawberry.field(
        description="The same bets grouped by region, by name (matches without a region are "
        "left out).",
        directives=[ListSize(assumed_size=100)],  # as `regions`
    )

    @classmethod
    def of(cls, r: BacktestResult) -> Backtest:
        return cls(
            bets=r.bets,
            won=r.won,
            staked=r.staked,
            profit=r.profit,
            roi=r.roi,
            hit_rate=r.hit_rate,
            max_drawdown=r.max_drawdown,
            by_region=[
                RegionBacktest(
                    region=g.region,
                    bets=g.bets,
                    won=g.won,
                    staked=g.staked,
                    profit=g.profit,
                    roi=g.roi,
                )
                for g in r.by_region
            ],
        )


Region = Annotated[
    str | None, strawberry.argument(description="Region name (whole, case-insensitive).")
]
From = Annotated[
    datetime | None, strawberry.argument(name="from", description="Start time, inclusive.")
]
To = Annotated[
    datetime | None, strawberry.argument(name="to", description="Start time, exclusive.")
]
IncludeTraining = Annotated[
    bool | None,
    strawberry.argument(
        description="Also count matches that are not shown to be out of sample for their model."
    ),
]


async def resolve_calibration(
    info: Info,
    region: Region = None,
    start_from: From = None,
    start_to: To = None,
    include_training: IncludeTraining = False,
    bins: Annotated[
        int | None, strawberry.argument(description="Number of equal-width bins, 2 to 50.")
    ] = DEFAULT_BINS,
) -> Calibration:
    selection = Selection(region, start_from, start_to, bool(include_training))
    bins = DEFAULT_BINS if bins is None else bins
    return Calibration.of(await calibration(info.context.data, selection, bins))


async def resolve_backtest(
    info: Info,
    min_edge: Annotated[
        float | None,
        strawberry.argument(
            description="Bet only when the picked outcome's edge is at least this."
        ),
    ] = 0.0,
    pick: Annotated[Pick | None, strawberry.argument(description="Which outcome to bet on.")] = (
        Pick.BEST_EDGE
    ),
    staking: Annotated[Staking | None, strawberry.argument(description="How to size stakes.")] = (
        Staking.FLAT
    ),
    kelly_fraction: Annotated[
        float | None,
        strawberry.argument(description="KELLY: the share of the Kelly stake to bet, in (0, 1]."),
    ] = 1.0,
    region: Region = None,
    start_from: From = None,
    start_to: To = None,
    include_training: IncludeTraining = False,
) -> Backtest:
    args = BacktestArgs(
        min_edge=0.0 if min_edge is None else min_edge,
        pick=(pick or Pick.BEST_EDGE).name,  # type: ignore[arg-type]
        staking=(staking or Staking.FLAT).name,  # type: ignore[arg-type]
        kelly_fraction=1.0 if kelly_fraction is None else kelly_fraction,
    )
    selection = Selection(region, start_from, start_to, bool(include_training))
    return Backtest.of(await backtest(info.context.data, args, selection))
