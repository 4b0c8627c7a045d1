"""Match, the hub of the graph, with its prediction, odds and features."""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import numpy as np
import strawberry

from graph.analytics.value import values
from graph.context import Context, Info
from graph.cost.directives import ListSize
from graph.errors import bad_input
from graph.livescores import LiveScore, match_live_score
from graph.loaders import PageKeys
from graph.planner.binding import Kind, planned
from graph.relay import Node, PageInfo
from graph.scalars import IsoDateTime

if TYPE_CHECKING:
    from graph.regions import Region


@strawberry.enum(description="Result of a match from the home side's view (class 0, 1, 2).")
class Outcome(Enum):
    HOME = "HOME"
    DRAW = "DRAW"
    AWAY = "AWAY"


OUTCOMES: tuple[Outcome | None, ...] = (Outcome.HOME, Outcome.DRAW, Outcome.AWAY)


def outcome_of(value: int | None) -> Outcome | None:
    return OUTCOMES[value] if value is not None and 0 <= value <= 2 else None


@strawberry.type(description="The precomputed 1X2 prediction of predictions.parquet.")
class Prediction:
    proba_home: float = strawberry.field(
        description="Probability of a home win.", metadata=planned()
    )
    proba_draw: float = strawberry.field(description="Probability of a draw.", metadata=planned())
    proba_away: float = strawberry.field(
        description="Probability of an away win.", metadata=planned()
    )
    predicted_class: int = strawberry.field(
        description="0 home, 1 draw, 2 away.", metadata=planned()
    )
    predicted_outcome: Outcome = strawberry.field(
        description="`predictedClass` as an Outcome.", metadata=planned()
    )
    model_run_id: str | None = strawberry.field(
        description="MLflow run id of the model.", metadata=planned()
    )
    model_stage: str | None = strawberry.field(
        description="Stage the pipeline recorded for the model (free text from the file).",
        metadata=planned(),
    )
    computed_at: IsoDateTime | None = strawberry.field(
        description="When predictions.parquet was written (file time).", metadata=planned()
    )


@strawberry.type(description="Bookmaker (Fonbet) 1X2 decimal odds from fonbet_odds.parquet.")
class Odds:
    home: float | None = strawberry.field(
        description="Decimal odds on a home win.", metadata=planned()
    )
    draw: float | None = strawberry.field(description="Decimal odds on a draw.", metadata=planned())
    away: float | None = strawberry.field(
        description="Decimal odds on an away win.", metadata=planned()
    )
    fonbet_event_id: int | None = strawberry.field(
        description="Fonbet event id.", metadata=planned()
    )
    fonbet_sport_id: int | None = strawberry.field(
        description="Fonbet sport (segment) id.", metadata=planned()
    )
    fonbet_url: str | None = strawberry.field(
        description="Link to the event on Fonbet; null unless both Fonbet ids are known.",
        metadata=planned(),
    )


@strawberry.type(
    description="The value of betting on each outcome: edge = model probability x decimal odd "
    "- 1 (the expected profit of a 1-unit bet by the model's probabilities)."
)
class MatchValue:
    home: float = strawberry.field(description="Edge of a bet on a home win.", metadata=planned())
    draw: float = strawberry.field(description="Edge of a bet on a draw.", metadata=planned())
    away: float = strawberry.field(description="Edge of a bet on an away win.", metadata=planned())
    best: Outcome = strawberry.field(
        description="The outcome with the largest edge (ties: HOME, then DRAW, then AWAY).",
        metadata=planned(),
    )
    best_edge: float = strawberry.field(description="The edge of `best`.", metadata=planned())
    kelly: float = strawberry.field(
        description="Full-Kelly stake fraction of `best`: edge / (odd - 1); 0 unless the edge "
        "is positive.",
        metadata=planned(),
    )


def match_value(prediction: Prediction | None, odds: Odds | None) -> MatchValue | None:
    """The value of a match from its prediction and odds (graph/analytics/value.py)."""
    if prediction is None or odds is None:
        return None
    proba = (prediction.proba_home, prediction.proba_draw, prediction.proba_away)
    prices = [np.nan if o is None else o for o in (odds.home, odds.draw, odds.away)]
    v = values(np.array([proba], dtype=np.float64), np.array([prices], dtype=np.float64))
    if not v.ok[0]:
        return None
    home, draw, away = v.edges[0].tolist()
    return MatchValue(
        home=home,
        draw=draw,
        away=away,
        best=(Outcome.HOME, Outcome.DRAW, Outcome.AWAY)[int(v.best[0])],
        best_edge=float(v.best_edge[0]),
        kelly=float(v.kelly[0]),
    )


async def _value_later(
    prediction: Prediction | Awaitable[Prediction | None] | None,
    odds: Odds | Awaitable[Odds | None] | None,
) -> MatchValue | None:
    if isinstance(prediction, Awaitable):
        prediction = await prediction
    if isinstance(odds, Awaitable):
        odds = await odds
    return match_value(prediction, odds)


@strawberry.type(description="One model feature of a match (NaN values are left out).")
class Feature:
    name: str = strawberry.field(
        description="Feature column name, e.g. `diff_goals_w5`.", metadata=planned()
    )
    value: float = strawberry.field(description="Feature value.", metadata=planned())


@strawberry.type(description="A football match: the hub that every other table hangs off.")
class Match(Node):
    match_id: int = strawberry.field(
        description="The pipeline's integer match id.", metadata=planned()
    )
    start_time_utc: IsoDateTime | None = strawberry.field(
        description="Kick-off time (UTC).", metadata=planned()
    )
    home_team_name: str = strawberry.field(description="Home side.", metadata=planned())
    away_team_name: str = strawberry.field(description="Away side.", metadata=planned())
    tournament_name: str | None = strawberry.field(
        description="Tournament or league.", metadata=planned()
    )
    region: Annotated[Region, strawberry.lazy("graph.regions")] | None = strawberry.field(
        description="Region (country or area) the tournament belongs to.",
        metadata=planned(Kind.JOIN),
    )
    women: bool = strawberry.field(
        description="A women's competition (features column `sex`).", metadata=planned()
    )
    is_future: bool = strawberry.field(description="Not played yet.", metadata=planned())
    home_score: int | None = strawberry.field(
        description="Home goals (finished matches).", metadata=planned()
    )
    away_score: int | None = strawberry.field(
        description="Away goals (finished matches).", metadata=planned()
    )
    outcome: Outcome | None = strawberry.field(
        description="Result (finished matches).", metadata=planned()
    )
    page: strawberry.Private[PageKeys | None] = None

    def node_key(self) -> str:
        return str(self.match_id)

    @strawberry.field(
        description="Precomputed prediction (predictions.parquet), if any.",
        graphql_type=Prediction | None,
        metadata=planned(Kind.JOIN),
    )
    def prediction(self, info: Info) -> Prediction | Awaitable[Prediction | None] | None:
        loader = info.context.loaders.prediction
        if self.page is not None:
            self.page.prime(loader)
        return loader.get(self.match_id)

    @strawberry.field(
        description="Bookmaker odds (fonbet_odds.parquet), if any.",
        graphql_type=Odds | None,
        metadata=planned(Kind.JOIN),
    )
    def odds(self, info: Info) -> Odds | Awaitable[Odds | None] | None:
        loader = info.context.loaders.odds
        if self.page is not None:
            self.page.prime(loader)
        return loader.get(self.match_id)

    @strawberry.field(
        description="The value of betting on this match by its prediction and odds; null unless "
        "it has a prediction and all three odds (finite, above 1).",
        graphql_type=MatchValue | None,
        metadata=planned(Kind.JOIN),
    )
    def value(self, info: Info) -> MatchValue | Awaitable[MatchValue | None] | None:
        loaders = info.context.loaders
        if self.page is not None:
            self.page.prime(loaders.prediction)
            self.page.prime(loaders.odds)
        prediction = loaders.prediction.get(self.match_id)
        odds = loaders.odds.get(self.match_id)
        if isinstance(prediction, Awaitable) or isinstance(odds, Awaitable):
            return _value_later(prediction, odds)
        return match_value(prediction, odds)

    @strawberry.field(
        description="Latest live score from the live-score database, if any; null with a "
        "SERVICE_UNAVAILABLE error when the database is down.",
        graphql_type=LiveScore | None,
    )
    def live_score(self, info: Info) -> Awaitable[LiveScore | None]:
        return match_live_score(info, self.match_id, self.page)

    @strawberry.field(
        description="Model features of the match (NaN dropped); `names` picks some (at most "
        "MATCHGRAPH_MAX_FEATURE_NAMES, default 1000; repeats count once), an unknown name "
        "is BAD_USER_INPUT.",
        graphql_type=list[Feature],
        metadata=planned(Kind.JOIN_MANY),
        # the model's features: 10 in the demo, room for twice as many
        directives=[ListSize(assumed_size=20)],
    )
    def features(
        self, info: Info, names: list[str] | None = None
    ) -> list[Feature] | Awaitable[list[Feature]]:
        wanted = None if names is None else wanted_features(info.context, names)
        loader = info.context.loaders.features
        if self.page is not None:
            self.page.prime(loader)
        found = loader.get(self.match_id)
        if wanted is None:
            return found
        if isinstance(found, list):
            return _pick(found, wanted)
        return _pick_later(found, wanted)


SHOWN_UNKNOWN = 10


def wanted_features(context: Context, names: list[str]) -> frozenset[str]:
    """The distinct names of `names`, checked once per operation and argument value.

    A page resolves `features(names:)` once per match with the same list: the
    check (and its set) is cached in the operation's loaders, so 1000 matches
    cost one check, not 1000.
    """
    limit = context.settings.max_feature_names
    if len(names) > limit:
        raise bad_input(f"`names` takes at most {limit} feature names, got {len(names)}")
    picks = context.loaders.feature_picks
    key = tuple(names)
    wanted = picks.get(key)
    if wanted is None:
        wanted = picks[key] = check_feature_names(context, key)
    return wanted


def check_feature_names(context: Context, names: tuple[str, ...]) -> frozenset[str]:
    known = context.data.catalog.feature_names
    wanted = frozenset(names)
    unknown = sorted(wanted.difference(known))
    if unknown:
        shown = ", ".join(name[:100] for name in unknown[:SHOWN_UNKNOWN])
        more = len(unknown) - SHOWN_UNKNOWN
        if more > 0:
            shown += f" and {more} more"
        raise bad_input(f"unknown feature name(s): {shown}", validNames=list(known))
    return wanted


def _pick(features: list[Feature], wanted: frozenset[str]) -> list[Feature]:
    return [f for f in features if f.name in wanted]


async def _pick_later(found: Awaitable[list[Feature]], wanted: frozenset[str]) -> list[Feature]:
    return _pick(await found, wanted)


@strawberry.type(description="One match in a connection, with its cursor.")
class MatchEdge:
    cursor: str = strawberry.field(
        description="Opaque keyset cursor; stable across refreshes.", metadata=planned()
    )
    node: Match = strawberry.field(description="The match.", metadata=planned(Kind.JOIN))


@strawberry.type(description="A page of matches ordered by start time, then match id (Relay).")
class MatchConnection:
    edges: list[MatchEdge] = strawberry.field(
        description="The matches of this page.", metadata=planned(Kind.JOIN_MANY)
    )
    page_info: PageInfo = strawberry.field(
        description="Paging information.", metadata=planned(Kind.JOIN)
    )
    total_count: int = strawberry.field(
        description="Matches that satisfy the filters, all pages.", metadata=planned()
    )


__all__ = [
    "Feature",
    "Match",
    "MatchConnection",
    "MatchEdge",
    "MatchValue",
    "Odds",
    "Outcome",
    "PageKeys",
    "Prediction",
]
