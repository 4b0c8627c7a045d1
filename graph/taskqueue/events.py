"""Task events on Redis pub/sub: workers publish state changes, the API follows them.

The API process keeps ONE subscription to the events channel and hands each
message to the waiters of that job id, so following a task costs no Redis
connection of its own and no polling loop. A waiter registers before it
reads the current state (or before it enqueues), so a change between the two
is never lost. A start event carries the start time, so a follower learns
`IN_PROGRESS` without reading Redis; only the end is read back (arq's result).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.taskqueue.background import BackgroundLoop

log = logging.getLogger(__name__)


STARTED = "IN_PROGRESS"
ENDED = "ENDED"


def event_message(job_id: str, status: str, *, started_ms: int | None = None) -> bytes:
    event: dict[str, Any] = {"id": job_id, "status": status}
    if started_ms is not None:
        event["started"] = started_ms
    return orjson.dumps(event)


async def publish(redis: Redis, channel: str, job_id: str, status: str) -> None:
    await redis.publish(channel, event_message(job_id, status))


@dataclass(eq=False)  # compared and hashed by identity: a hub keeps sets of them
class Waiter:
    """What a follower of one job waits on: set on every event of that job."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # the newest event since the follower last looked; None: unknown, read Redis
    news: dict[str, Any] | None = None

    def take(self) -> dict[str, Any] | None:
        self.changed.clear()
        news, self.news = self.news, None
        return news

    def tell(self, news: dict[str, Any] | None) -> None:
        self.news = news
        self.changed.set()


class TaskEventHub:
    """One pub/sub subscription per process (to `channel`, the namespace's task-events
    channel), fanned out to per-job waiters."""

    def __init__(
        self, redis_factory: Callable[[], Redis], channel: str, *, retry_seconds: float = 1.0
    ) -> None:
        self._redis_factory = redis_factory
        self.channel = channel
        self._retry_seconds = retry_seconds
        self._waiters: dict[str, set[Waiter]] = defaultdict(set)
        self._loop = BackgroundLoop(self._run, "task-events")
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    @contextlib.asynccontextmanager
    async def waiter(self, job_id: str) -> AsyncIterator[Waiter]:
        """A waiter told of every published change of `job_id` while the block runs."""
        waiter = Waiter()
        self._waiters[job_id].add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[job_id]

    def _dispatch(self, data: Any) -> None:
        try:
            news = orjson.loads(data)
            job_id = news["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        for waiter in self._waiters.get(job_id, ()):
            waiter.tell(news)

    async def _run(self) -> None:
        while True:
            redis = self._redis_factory()
            try:
                async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.connected.set()
                    self._wake_everyone()  # we may have missed events while away
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                if self.connected.is_set():
                    log.warning("task events: lost Redis (%s); retrying", exc)
                self.connected.clear()
            finally:
                await redis.aclose()
            await asyncio.sleep(self._retry_seconds)

    def _wake_everyone(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.tell(None)  # what happened meanwhile is unknown: read it
