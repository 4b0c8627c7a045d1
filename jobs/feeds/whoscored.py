"""WhoScored livescores feed -> the live-score table, all or nothing.

Mapping (DATA.md): `startTimeUtc` (else `startTime`, taken as UTC), the
scores, `elapsed` as status, the tournament's `regionName` and
`tournamentName`. The feed's `sex` is not ours (the catalogue's is).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from graph.sources.livescore_models import LiveScoreRow
from graph.sources.livescores import LiveScoreRepository
from graph.sources.storage import Storage
from graph.taskqueue.results import IngestResult
from jobs.feeds.payloads import PayloadRejected, decode_json, explain, read_feed
from jobs.feeds.whoscored_models import Livescores


async def ingest_livescores(
    *, storage: Storage, repository: LiveScoreRepository, source: str
) -> IngestResult:
    """Validate the whole payload at `source`, then upsert it in one transaction.

    SourceRefused when `source` is outside the storage or absent; a payload
    that fails validation writes nothing and comes back as `rejected`;
    DatabaseUnavailable when the database cannot take the write.
    """
    data = await read_feed(storage, source)
    try:
        rows = await asyncio.to_thread(parse_livescores, data, source)
    except PayloadRejected as rejected:
        return IngestResult(rejected=rejected.records, messages=rejected.reasons)
    counts = await repository.upsert(rows)
    return IngestResult(*counts, messages=[f"{len(rows)} matches read from {source}"])


def parse_livescores(data: bytes, source: str) -> list[LiveScoreRow]:
    """Live-score rows of a payload, or PayloadRejected with reasons for people."""
    payload = decode_json(data, source)
    try:
        feed = Livescores.model_validate(payload)
    except ValidationError as exc:
        raise PayloadRejected(explain(exc, payload, _label), _count_matches(payload)) from None
    rows = [
        LiveScoreRow(
            match_id=match.id,
            start_time_utc=match.kickoff,
            home_team_name=match.homeTeamName,
            away_team_name=match.awayTeamName,
            home_score=match.homeScore,
            away_score=match.awayScore,
            status=match.elapsed,
            region=tournament.regionName,
            tournament=tournament.tournamentName,
        )
        for tournament in feed.tournaments
        for match in tournament.matches
    ]
    return _unique(rows)


def _unique(rows: list[LiveScoreRow]) -> list[LiveScoreRow]:
    """One row per match id; a match listed twice with different data is refused."""
    seen: dict[int, LiveScoreRow] = {}
    conflicts = []
    for row in rows:
        previous = seen.setdefault(row.match_id, row)
        if previous != row:
            conflicts.append(f"match {row.match_id} is listed twice with different data")
    if conflicts:
        raise PayloadRejected(conflicts[:10], len(rows))
    return list(seen.values())


def _label(list_name: str, item: dict[str, Any]) -> str | None:
    if list_name == "matches" and "id" in item:
        teams = f" ({item.get('homeTeamName', '?')} v {item.get('awayTeamName', '?')})"
        return f"match {item['id']!r}{teams}"
    if list_name == "tournaments" and item.get("tournamentName"):
        return f"tournament {item['tournamentName']!r}"
    return None


def _count_matches(payload: Any) -> int:
    """How many match records the refused payload holds (1 when it has no such shape)."""
    try:
        count = sum(len(t["matches"]) for t in payload["tournaments"])
    except (TypeError, KeyError, AttributeError):
        return 1
    return max(count, 1)
