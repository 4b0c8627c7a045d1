"""`matches` connections: argument checks, filtering and keyset paging."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from graph.analytics.table import match_table
from graph.context import Context, Info
from graph.errors import bad_input
from graph.lookups import matches_at
from graph.matches import MatchConnection, MatchEdge
from graph.relay import PageInfo, decode_cursor
from graph.sources.catalog import MatchFilter, Page

DEFAULT_FIRST = 50


@dataclass(frozen=True, slots=True)
class MatchQuery:
    """The arguments of a `matches` field as clients sent them."""

    first: int | None = DEFAULT_FIRST
    after: str | None = None
    future_only: bool | None = None
    region: str | None = None
    team: str | None = None
    start_from: datetime | None = None
    start_to: datetime | None = None
    min_edge: float | None = None


def match_page(ctx: Context, query: MatchQuery) -> Page:
    """The catalogue page `query` asks for; BAD_USER_INPUT for a bad argument.

    Shared by the resolvers below and the planner (graph/planner), so both check
    arguments, filter and page the same way.
    """
    first = DEFAULT_FIRST if query.first is None else query.first
    if not 0 <= first <= ctx.settings.max_first:
        raise bad_input(f"`first` must be between 0 and {ctx.settings.max_first}, got {first}")
    if query.start_from and query.start_to and query.start_from >= query.start_to:
        raise bad_input("`from` must be before `to`")
    if query.min_edge is not None and not math.isfinite(query.min_edge):
        raise bad_input("`minEdge` must be a finite number")
    after = decode_cursor(query.after) if query.after else None
    where = MatchFilter(
        future_only=bool(query.future_only),
        region=query.region,
        team=query.team,
        start_from=query.start_from,
        start_to=query.start_to,
        min_edge=query.min_edge,
        best_edge=None if query.min_edge is None else match_table(ctx.data).value.best_edge,
    )
    return ctx.data.catalog.page(where, first=first, after=after)


def match_connection(info: Info, query: MatchQuery) -> MatchConnection:
    ctx = info.context
    page = match_page(ctx, query)
    matches, cursors = matches_at(ctx.data, page.positions)
    edges = [MatchEdge(cursor=c, node=m) for c, m in zip(cursors, matches, strict=True)]
    return MatchConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        total_count=page.total_count,
    )
