"""Live scores from the database: `Query.livescores`, `Match.liveScore`, IngestResult.

Both fields read PostgreSQL (SQLite locally), so they make the response
uncacheable; when the database is down each fails alone with
SERVICE_UNAVAILABLE and the rest of the response still resolves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime

import strawberry

from graph.context import Info
from graph.errors import bad_input, unavailable
from graph.loaders import PageKeys
from graph.sources.errors import DatabaseUnavailable
from graph.sources.livescore_models import LiveScoreRow
from graph.sources.livescores import LiveScoreRepository
from graph.taskqueue import results

YEARS = (1998, 2100)
MAX_LIMIT = 10_000


@strawberry.type(description="The latest score a live-score feed reported for a match.")
class LiveScore:
    match_id: int = strawberry.field(description="The pipeline's integer match id.")
    start_time_utc: datetime | None = strawberry.field(description="Kick-off time (UTC).")
    home_team_name: str = strawberry.field(description="Home side, as the feed names it.")
    away_team_name: str = strawberry.field(description="Away side, as the feed names it.")
    home_score: int | None = strawberry.field(description="Home goals so far.")
    away_score: int | None = strawberry.field(description="Away goals so far.")
    status: str | None = strawberry.field(
        description="The feed's `elapsed` text: `FT`, `HT`, a minute such as `67'`, ..."
    )
    region: str | None = strawberry.field(description="Region of the tournament.")
    tournament_name: str | None = strawberry.field(description="Tournament or league.")
    updated_at: datetime | None = strawberry.field(
        description="When this row last changed (replaying a feed does not change it)."
    )


@strawberry.type(description="What one feed ingestion did.")
class IngestResult:
    inserted: int = strawberry.field(description="Records written for the first time.")
    updated: int = strawberry.field(description="Records whose content changed.")
    unchanged: int = strawberry.field(description="Records already up to date (not rewritten).")
    rejected: int = strawberry.field(
        description="Records of a payload that failed validation (nothing of it is written; "
        "an unreadable payload counts as one)."
    )
    unlinked: int | None = strawberry.field(
        description="Events that could not be linked to one catalogue match (Fonbet only)."
    )
    messages: list[str] = strawberry.field(
        description="For people: why a payload was rejected, which events stayed unlinked."
    )


def ingest_result_of(result: results.IngestResult) -> IngestResult:
    return IngestResult(
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=result.rejected,
        unlinked=result.unlinked,
        messages=list(result.messages),
    )


def live_score_of(row: LiveScoreRow) -> LiveScore:
    return LiveScore(
        match_id=row.match_id,
        start_time_utc=row.start_time_utc,
        home_team_name=row.home_team_name,
        away_team_name=row.away_team_name,
        home_score=row.home_score,
        away_score=row.away_score,
        status=row.status,
        region=row.region,
        tournament_name=row.tournament,
        updated_at=row.updated_at,
    )


async def load_live_scores(
    repository: LiveScoreRepository | None, ids: Sequence[int]
) -> list[LiveScore | None]:
    """The batch function of `Loaders.live_score`: one query for all the ids."""
    if repository is None:
        raise unavailable("live scores are not configured in this process")
    try:
        rows = await repository.by_ids(ids)
    except DatabaseUnavailable as exc:
        raise unavailable(str(exc)) from None
    return [live_score_of(rows[i]) if i in rows else None for i in ids]


def match_live_score(
    info: Info, match_id: int, page: PageKeys | None
) -> Awaitable[LiveScore | None]:
    """`Match.liveScore`: the first match of a page queues the whole page."""
    info.context.uncacheable()
    loader = info.context.loaders.live_score
    if page is not None:
        page.prime(loader)
    return loader.get(match_id)


async def resolve_livescores(
    info: Info,
    year: int | None = None,
    month: int | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> list[LiveScore] | None:
    info.context.uncacheable()
    now = datetime.now(UTC)
    year = now.year if year is None else year
    month = now.month if month is None else month
    limit = MAX_LIMIT if limit is None else limit
    offset = 0 if offset is None else offset
    _check_range("year", year, *YEARS)
    _check_range("month", month, 1, 12)
    _check_range("limit", limit, 1, MAX_LIMIT)
    _check_range("offset", offset, 0, 2**31 - 1)
    repository = info.context.services.livescores
    if repository is None:
        raise unavailable("live scores are not configured in this process")
    try:
        rows = await repository.month(year, month, limit=limit, offset=offset)
    except DatabaseUnavailable as exc:
        raise unavailable(str(exc)) from None
    return [live_score_of(row) for row in rows]


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise bad_input(f"`{name}` must be between {low} and {high}, got {value}")


LIVESCORES_DESCRIPTION = (
    "Live scores of the matches starting in one UTC month, ordered by start time then match "
    "id. `year` 1998-2100 (default: current), `month` 1-12 (default: current), `limit` "
    "1-10000 (default 10000), `offset` >= 0. Null with a SERVICE_UNAVAILABLE error when the "
    "database is down."
)
