"""Root query fields of the read path."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

import strawberry

from graph import live
from graph.analytics_types import (
    BACKTEST_DESCRIPTION,
    CALIBRATION_DESCRIPTION,
    resolve_backtest,
    resolve_calibration,
)
from graph.context import Info
from graph.cost.directives import ListSize
from graph.errors import bad_input
from graph.health import Health, current_health
from graph.livescores import LIVESCORES_DESCRIPTION, resolve_livescores
from graph.lookups import regions as all_regions
from graph.matches import Match, MatchConnection
from graph.paging import DEFAULT_FIRST, MatchQuery, match_connection
from graph.planner.binding import Kind, planned
from graph.regions import Region
from graph.relay import Node, decode_global_id
from graph.reports import DRIFT_DESCRIPTION, REPORTS_DESCRIPTION, resolve_drift, resolve_reports
from graph.tasks import ModelInfo, ModelStage, QueueStats, Task, Worker

INT32_MAX = 2**31 - 1
MATCH_KEY = re.compile(r"-?[0-9]{1,30}")


@strawberry.type(description="Read the match graph.")
class Query:
    @strawberry.field(
        description="Any object by its global id (Relay); null when unknown.",
        metadata=planned(Kind.JOIN),
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, key = decode_global_id(id)
        if type_name == "Match":
            # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
            if not MATCH_KEY.fullmatch(key):
                raise bad_input(f"malformed node id {id[:100]!r}")
            match: Match | None = await info.context.loaders.match.load(int(key))
            return match
        if type_name == "Region":
            wanted = key.casefold()
            return next(
                (r for r in all_regions(info.context.data) if r.name.casefold() == wanted), None
            )
        return None

    @strawberry.field(
        description="One match by its pipeline id (also orphan predictions); null when unknown.",
        graphql_type=Match | None,
        metadata=planned(Kind.JOIN),
    )
    def match(self, info: Info, match_id: int) -> Awaitable[Match | None]:
        if not 0 <= match_id <= INT32_MAX:
            raise bad_input(f"`matchId` must be between 0 and {INT32_MAX}")
        return info.context.loaders.match.load(match_id)

    @strawberry.field(
        description="Matches of the catalogue ordered by start time, then match id. "
        "`first` defaults to 50 (at most 5000); `from` is inclusive, `to` exclusive; "
        "`team` matches either side and `region` the region name, both case-insensitive; "
        "`minEdge` keeps matches whose `value.bestEdge` is at least that (a match without a "
        "value never passes).",
        metadata=planned(Kind.JOIN),
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges"])],
    )
    def matches(
        self,
        info: Info,
        first: int | None = DEFAULT_FIRST,
        after: str | None = None,
        future_only: bool | None = None,
        region: str | None = None,
        team: str | None = None,
        start_from: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        start_to: Annotated[datetime | None, strawberry.argument(name="to")] = None,
        min_edge: Annotated[
            float | None,
            strawberry.argument(description="Keep matches whose best value edge is at least this."),
        ] = None,
    ) -> MatchConnection:
        query = MatchQuery(first, after, future_only, region, team, start_from, start_to, min_edge)
        return match_connection(info, query)

    @strawberry.field(
        description="Every region of the catalogue and of the ROI file, by name.",
        metadata=planned(Kind.JOIN_MANY),
        directives=[ListSize(assumed_size=100)],  # 30 in the demo
    )
    def regions(self, info: Info) -> list[Region]:
        return all_regions(info.context.data)

    livescores = strawberry.field(
        resolver=resolve_livescores,
        description=LIVESCORES_DESCRIPTION,
        # `limit`, else its default in the resolver (10000)
        directives=[ListSize(assumed_size=10_000, slicing_arguments=["limit"])],
    )

    @strawberry.field(description="A task by id; an unknown id gives status NOT_FOUND.")
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        return await live.read_task(info, str(id))

    @strawberry.field(
        description="Registry metadata of the model behind `stage` (cached per stage for "
        "MATCHGRAPH_MODEL_INFO_TTL seconds)."
    )
    async def model(
        self, info: Info, stage: ModelStage | None = ModelStage.CHAMPION
    ) -> ModelInfo | None:
        return await live.model(info, stage or ModelStage.CHAMPION)

    @strawberry.field(description="Jobs queued, running and scheduled, over all queues.")
    async def queue(self, info: Info) -> QueueStats | None:
        return await live.queue_stats(info)

    @strawberry.field(
        description="Workers by their heartbeats (`alive`: a recent one) and their counters; "
        "a queue no live worker heartbeats on is also listed under health's `degraded`.",
        directives=[ListSize(assumed_size=20)],
    )
    async def workers(self, info: Info) -> list[Worker] | None:
        return await live.workers(info)

    calibration = strawberry.field(
        resolver=resolve_calibration,
        description=CALIBRATION_DESCRIPTION,
        directives=[ListSize(slicing_arguments=["bins"], sized_fields=["bins"])],
    )
    backtest = strawberry.field(resolver=resolve_backtest, description=BACKTEST_DESCRIPTION)
    drift = strawberry.field(resolver=resolve_drift, description=DRIFT_DESCRIPTION)
    reports = strawberry.field(
        resolver=resolve_reports,
        description=REPORTS_DESCRIPTION,
        directives=[ListSize(assumed_size=100)],
    )

    @strawberry.field(description="Health of the API process that answered (never cached).")
    def health(self, info: Info) -> Health:
        info.context.uncacheable()
        return current_health(info.context.sources, info.context.services.health_checks)
