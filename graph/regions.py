"""Regions (countries and areas) and their flat-stake ROI."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated

import strawberry

from graph.context import Info
from graph.cost.directives import ListSize
from graph.loaders import PageKeys
from graph.planner.binding import Kind, planned
from graph.relay import Node

if TYPE_CHECKING:
    from graph.matches import MatchConnection


@strawberry.type(description="Flat-stake betting ROI of a region (roi_by_region.csv).")
class RegionRoi:
    bets: int = strawberry.field(description="Bets placed (n_bets).", metadata=planned())
    roi: float = strawberry.field(
        description="Return on investment, profit / stake.", metadata=planned()
    )
    profit: float | None = strawberry.field(
        description="Profit in stake units.", metadata=planned()
    )
    won: int | None = strawberry.field(description="Bets won (n_won).", metadata=planned())


@strawberry.type(description="A region (country or area) whose tournaments the matches belong to.")
class Region(Node):
    name: str = strawberry.field(
        description="Region name as the pipeline writes it.", metadata=planned()
    )
    page: strawberry.Private[PageKeys | None] = None

    def node_key(self) -> str:
        return self.name

    @strawberry.field(
        description="ROI of flat-stake betting in this region; null until produced.",
        graphql_type=RegionRoi | None,
        metadata=planned(Kind.JOIN),
    )
    def roi(self, info: Info) -> RegionRoi | Awaitable[RegionRoi | None] | None:
        loader = info.context.loaders.roi
        if self.page is not None:
            self.page.prime(loader)
        return loader.get(self.name.casefold())

    @strawberry.field(
        description="Matches of this region, ordered by start time then match id.",
        metadata=planned(Kind.JOIN),
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges"])],
    )
    def matches(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Annotated[MatchConnection, strawberry.lazy("graph.matches")]:
        # Paging builds Match and Region objects: reached through the operation's loaders
        # (graph.batching), so this module does not import it (no import cycle).
        connection: MatchConnection = info.context.loaders.match_connection(
            info, first=first, after=after, region=self.name
        )
        return connection
