"""Task events on Redis pub/sub: workers publish state changes, the API follows them.

The API process keeps ONE pub/sub subscription (`graph.taskqueue.pubsub`, shared
with the other channels it follows) and hands each task-events message to the
waiters of that job id, so following a task costs no Redis
connection of its own and no polling loop. A waiter registers before it
reads the current state (or before it enqueues), so a change between the two
is never lost. A start event carries the start time, so a follower learns
`IN_PROGRESS` without reading Redis; only the end is read back (arq's result).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from graph.taskqueue.pubsub import PubSubHub

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
    """The listener of the task-events channel on the process's one pub/sub connection
    (`PubSubHub`), fanned out to per-job waiters."""

    def __init__(self, pubsub: PubSubHub, channel: str) -> None:
        self.channel = channel
        self._waiters: dict[str, set[Waiter]] = defaultdict(set)
        self.connected = pubsub.connected  # set while the shared subscription is up
        pubsub.listen(channel, self)

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

    def on_message(self, data: bytes) -> None:
        self._dispatch(data)

    def on_subscribed(self) -> None:
        self._wake_everyone()  # we may have missed events while away

    def on_lost(self) -> None:
        """Followers ride the outage out: they re-read when the subscription is back."""

    def _dispatch(self, data: Any) -> None:
        try:
            news = orjson.loads(data)
            job_id = news["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        for waiter in self._waiters.get(job_id, ()):
            waiter.tell(news)

    def _wake_everyone(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.tell(None)  # what happened meanwhile is unknown: read it
