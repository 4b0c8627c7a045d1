"""Live-score changes on Redis pub/sub: what an ingestion committed, as it committed it.

The writer (the worker's ingestion job, `matchgraph ingest-livescores`) hands the
rows an upsert changed to `LiveScorePublisher` right after the commit; it
publishes them on the namespace's live-scores channel, `CHUNK` rows a message
(JSON: `{"rows": [{...LiveScoreRow, times in ISO-8601}]}`). Every API process
follows the channel on its one pub/sub subscription (`graph.taskqueue.livescore_feed`).

Publishing is best effort: the rows are committed whatever happens here. A
message lost with Redis is made good by the API, whose subscribers get the
current state again when its subscription comes back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.settings import Settings
from graph.sources.livescore_models import LiveScoreRow

log = logging.getLogger(__name__)

CHUNK = 500  # rows per message
_TIMES = ("start_time_utc", "updated_at")
_FIELDS = tuple(f.name for f in fields(LiveScoreRow))


def encode_rows(rows: Sequence[LiveScoreRow]) -> Iterator[bytes]:
    """The messages announcing `rows`, `CHUNK` rows each."""
    for begin in range(0, len(rows), CHUNK):
        chunk = [_record(row) for row in rows[begin : begin + CHUNK]]
        yield orjson.dumps({"rows": chunk})


def decode_records(data: bytes) -> list[dict[str, Any]]:
    """A message's row records, undecoded (cheap: the listener builds rows it needs only)."""
    try:
        records = orjson.loads(data)["rows"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return []
    return records if isinstance(records, list) else []


def row_of(record: dict[str, Any]) -> LiveScoreRow | None:
    """A record of a message as a row; None when it is not one (a newer writer's format?)."""
    try:
        values = dict(record)
        for name in _TIMES:
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        return LiveScoreRow(**values)
    except (TypeError, ValueError):
        return None


def _record(row: LiveScoreRow) -> dict[str, Any]:
    record = {name: getattr(row, name) for name in _FIELDS}
    for name in _TIMES:
        if record[name] is not None:
            record[name] = record[name].isoformat()
    return record


class LiveScorePublisher:
    """Announces committed live-score rows on `channel`; the repository's `on_change` hook."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self.redis = redis
        self.channel = channel

    async def __call__(self, rows: Sequence[LiveScoreRow]) -> None:
        if not rows:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for message in encode_rows(rows):
                    pipe.publish(self.channel, message)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning(
                "live scores: %d committed change(s) not announced, Redis failed (%s); "
                "subscribers get the current state when the API's subscription is back",
                len(rows),
                type(exc).__name__,
            )


@contextlib.asynccontextmanager
async def open_live_score_publisher(settings: Settings) -> AsyncIterator[LiveScorePublisher]:
    """A publisher on the settings' Redis and namespace, closed at the end."""
    redis: Redis = Redis.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=5.0
    )
    try:
        yield LiveScorePublisher(redis, settings.redis_names.live_scores_channel)
    finally:
        await redis.aclose()
