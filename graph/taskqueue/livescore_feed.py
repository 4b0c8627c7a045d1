"""Live-score subscriptions of one API process, on its one pub/sub subscription.

`LiveScoreFeed` is the listener of the live-scores channel (see
`graph.taskqueue.pubsub`): however many clients follow live scores, the process
holds no Redis connection of its own for them. Each message's rows go to the
subscribers of those match ids only.

A subscriber gets the current rows of its matches first (read from the
database after it registered, so no change between the two is lost; reads that
start together share one query), then each change. While Redis or the database
is down it is told so once (`FeedUnavailable`) and stays subscribed; when both
are back it gets the current rows of its matches again, which covers whatever
was published meanwhile. A row older than one already sent for its match (two
writers racing) is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from graph.sources.errors import DatabaseUnavailable
from graph.sources.livescore_models import LiveScoreRow
from graph.sources.livescores import LiveScoreRepository
from graph.taskqueue.background import BackgroundLoop
from graph.taskqueue.livescore_events import decode_records, row_of

log = logging.getLogger(__name__)

DATABASE_CHECK_SECONDS = 2.0  # how often the database is checked while anyone subscribes
REDIS_DOWN = "live scores: Redis cannot be reached; the current scores follow when it is back"
NOT_CONFIGURED = "live scores are not configured in this process"


@dataclass(frozen=True)
class FeedUnavailable:
    """Told to a subscriber when the feed cannot follow changes (Redis or the database)."""

    reason: str


FeedItem = LiveScoreRow | FeedUnavailable


@dataclass(eq=False)  # hashed by identity: the feed keeps sets of them
class _Subscriber:
    match_ids: tuple[int, ...]
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    pending: dict[int, LiveScoreRow] = field(default_factory=dict)

    def push(self, row: LiveScoreRow) -> None:
        self.pending[row.match_id] = row  # one message's later row of a match wins
        self.changed.set()

    def take(self) -> list[LiveScoreRow]:
        self.changed.clear()
        rows = list(self.pending.values())
        self.pending.clear()
        return rows


class _SharedReads:
    """Reads of current rows that start together share one query: after Redis comes
    back every subscriber re-reads at once, and that must not be a query each."""

    def __init__(self, repository: LiveScoreRepository) -> None:
        self._repository = repository
        self._wanted: set[int] = set()
        self._batch: asyncio.Task[dict[int, LiveScoreRow]] | None = None

    async def read(self, match_ids: Sequence[int]) -> dict[int, LiveScoreRow]:
        self._wanted.update(match_ids)
        if self._batch is None:
            self._batch = asyncio.ensure_future(self._run())
            self._batch.add_done_callback(_retrieve)  # its readers may all have left
        rows = await asyncio.shield(self._batch)
        return {i: rows[i] for i in match_ids if i in rows}

    async def _run(self) -> dict[int, LiveScoreRow]:
        await asyncio.sleep(0)  # the readers woken with this one join first
        wanted, self._wanted, self._batch = self._wanted, set(), None
        return await self._repository.by_ids(sorted(wanted))


def _retrieve(task: asyncio.Task[dict[int, LiveScoreRow]]) -> None:
    if not task.cancelled():
        task.exception()


class LiveScoreFeed:
    """Fans the live-scores channel out to subscribers by match id."""

    def __init__(
        self,
        repository: LiveScoreRepository | None,
        *,
        check_seconds: float = DATABASE_CHECK_SECONDS,
    ) -> None:
        self._repository = repository
        self._reads = _SharedReads(repository) if repository is not None else None
        self._check_seconds = check_seconds
        self._by_match: dict[int, set[_Subscriber]] = defaultdict(set)
        self._subscribers: set[_Subscriber] = set()
        self._redis_up = False  # until the shared subscription says so
        self._database_error: str | None = None
        self._watch = BackgroundLoop(self._watch_database, "live-score-database-watch")

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def start(self) -> None:
        self._watch.start()

    async def stop(self) -> None:
        await self._watch.stop()

    # ChannelListener: told by the process's PubSubHub

    def on_message(self, data: bytes) -> None:
        if not self._by_match:
            return
        for record in decode_records(data):
            match_id = record.get("match_id") if isinstance(record, dict) else None
            subscribers = self._by_match.get(match_id) if isinstance(match_id, int) else None
            if not subscribers:
                continue
            row = row_of(record)
            if row is not None:
                for subscriber in subscribers:
                    subscriber.push(row)

    def on_subscribed(self) -> None:
        self._redis_up = True
        self._wake_everyone()

    def on_lost(self) -> None:
        self._redis_up = False
        self._wake_everyone()

    def problem(self) -> str | None:
        """Why changes cannot be followed now; None when they can."""
        if self._repository is None:
            return NOT_CONFIGURED
        if not self._redis_up:
            return REDIS_DOWN
        return self._database_error

    async def follow(self, match_ids: Sequence[int]) -> AsyncIterator[FeedItem]:
        """The current rows of `match_ids` (those that have one, in that order), then each
        change; `FeedUnavailable` once per outage, and the current rows again after it."""
        subscriber = _Subscriber(tuple(dict.fromkeys(match_ids)))
        self._add(subscriber)
        try:
            async for item in self._stream(subscriber):
                yield item
        finally:
            self._remove(subscriber)

    async def _stream(self, subscriber: _Subscriber) -> AsyncIterator[FeedItem]:
        sent: dict[int, datetime | None] = {}  # updated_at of the last row sent per match
        synced = False  # the subscriber has had the current rows since the last outage
        told = False  # it was told of the outage going on (once, whatever its causes)
        while True:
            problem = self.problem()
            if problem is None and not synced:
                assert self._reads is not None
                try:
                    rows = await self._reads.read(subscriber.match_ids)
                except DatabaseUnavailable as exc:
                    self._database(str(exc))
                    continue
                self._database(None)
                synced, told = True, False
                for match_id in subscriber.match_ids:
                    row = rows.get(match_id)
                    if row is not None:
                        sent[match_id] = row.updated_at
                        yield row
                continue
            if problem is not None and not told:
                synced, told = False, True
                yield FeedUnavailable(problem)
                continue
            await subscriber.changed.wait()
            for row in subscriber.take():
                if _newer(row, sent):
                    sent[row.match_id] = row.updated_at
                    yield row

    def _add(self, subscriber: _Subscriber) -> None:
        self._subscribers.add(subscriber)
        for match_id in subscriber.match_ids:
            self._by_match[match_id].add(subscriber)

    def _remove(self, subscriber: _Subscriber) -> None:
        self._subscribers.discard(subscriber)
        for match_id in subscriber.match_ids:
            subscribers = self._by_match.get(match_id)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._by_match[match_id]

    def _wake_everyone(self) -> None:
        for subscriber in self._subscribers:
            subscriber.changed.set()

    def _database(self, error: str | None) -> None:
        if error != self._database_error:
            self._database_error = error
            self._wake_everyone()

    async def _watch_database(self) -> None:
        """While anyone subscribes, notice the database going away and coming back."""
        while True:
            await asyncio.sleep(self._check_seconds)
            if not self._subscribers or self._repository is None:
                continue
            try:
                await self._repository.check()
            except DatabaseUnavailable as exc:
                self._database(str(exc))
            except Exception:  # a bug here must not stop the watch silently
                log.exception("live scores: checking the database failed")
            else:
                self._database(None)


def _newer(row: LiveScoreRow, sent: dict[int, datetime | None]) -> bool:
    if row.match_id not in sent:
        return True
    last = sent[row.match_id]
    return last is None or row.updated_at is None or row.updated_at > last
