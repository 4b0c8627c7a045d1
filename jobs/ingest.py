"""Long jobs: feed ingestion (WhoScored live scores, Fonbet odds)."""

from __future__ import annotations

from typing import Any

from graph.sources.errors import DatabaseUnavailable
from graph.taskqueue.results import IngestResult
from jobs.errors import JobError
from jobs.feeds import fonbet, whoscored
from jobs.feeds.errors import SourceRefused
from jobs.resources import resources_of


async def ingest_livescores(ctx: dict[str, Any], source: str) -> dict[str, Any]:
    """Upsert the WhoScored livescores payload at `source` (`<bucket>/<key>`)."""
    resources = resources_of(ctx)
    if resources.livescores is None:
        raise JobError("this worker has no live-score database")
    try:
        result = await whoscored.ingest_livescores(
            storage=resources.storage, repository=resources.livescores, source=source
        )
    except (SourceRefused, DatabaseUnavailable) as exc:
        raise JobError(str(exc)) from exc
    return _checked(result)


async def ingest_fonbet_odds(ctx: dict[str, Any], source: str) -> dict[str, Any]:
    """Merge the 1X2 odds of the Fonbet events packet at `source` into fonbet_odds.parquet."""
    try:
        result = await fonbet.ingest_fonbet_odds(storage=resources_of(ctx).storage, source=source)
    except SourceRefused as exc:
        raise JobError(str(exc)) from exc
    return _checked(result)


def _checked(result: IngestResult) -> dict[str, Any]:
    """A payload rejected whole fails the task, with the reasons a person can act on."""
    written = result.inserted + result.updated + result.unchanged
    if result.rejected and not written:
        raise JobError("payload rejected, nothing written: " + "; ".join(result.messages))
    return result.as_dict()
