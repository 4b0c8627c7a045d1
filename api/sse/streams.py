"""Event streams: the operations that write to one, and the reservations that hold one.

An `EventStream` is one SSE response: a bounded queue of encoded events that
its operations (each a task) fill and `pump` writes to the client, with a
keep-alive comment whenever nothing was sent for `keep_alive` seconds. When
the client goes away, or the server ends the stream, every operation on it is
cancelled and awaited: nothing outlives its stream.

Single connection mode: `PUT` makes a `Reservation` (a stream with a one-time
token, the auth scope it was made with, and its own operations); the first
stream request with the token opens it, a second gets 409. Operations may be
submitted before it opens (their events wait in the queue). A reservation
nobody opens within `RESERVATION_SECONDS` is dropped with its operations, and
so is one whose stream ended: the token is then unknown (404), as the protocol
expects of a one-time token; the client reserves anew.

Reservations live in the memory of the process that made them: the stream and
every request naming the token must reach that process (session affinity;
see README, "SSE").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import Receive, Send

from api.sse.protocol import KEEP_ALIVE, STREAM_HEADERS, complete_event, next_event

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 15.0
RESERVATION_SECONDS = 60.0  # a reservation must be opened by then
MAX_RESERVATIONS = 10_000  # per process, open or not
QUEUE_EVENTS = 256  # events waiting for a slow (or not yet connected) client; then back-pressure


class StreamClosed(Exception):
    """The stream ended (its reservation is going): it takes no more operations."""


class EventStream:
    """One stream's operations and the events they wait to send."""

    def __init__(self, *, max_operations: int) -> None:
        self.max_operations = max_operations
        self.operations: dict[str, asyncio.Task[None]] = {}
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_EVENTS)
        self.closed = False

    @property
    def full(self) -> bool:
        return len(self.operations) >= self.max_operations

    def start(
        self, operation_id: str | None, payloads: AsyncIterator[dict[str, Any]], *, last: bool
    ) -> None:
        """Run an operation: each payload a `next` event, then `complete`; with `last`
        (distinct connections mode) the stream ends after it. Not on a closed stream."""
        if self.closed:
            raise StreamClosed
        key = operation_id or ""
        task = asyncio.create_task(self._run(operation_id, payloads, last), name="sse-operation")
        self.operations[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    async def _run(
        self, operation_id: str | None, payloads: AsyncIterator[dict[str, Any]], last: bool
    ) -> None:
        try:
            async for payload in payloads:
                await self._queue.put(next_event(payload, operation_id))
        except Exception:  # a bug: the schema codes every GraphQL error itself
            log.exception("SSE operation failed")
        finally:
            with contextlib.suppress(Exception):
                await _aclose(payloads)
        # Not reached when cancelled (DELETE, or the stream ended): nobody to tell.
        await self._queue.put(complete_event(operation_id))
        if last:
            await self._queue.put(None)

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(key) is task:
            del self.operations[key]

    def stop(self, operation_id: str) -> None:
        """Stop one operation (DELETE): no further event for it."""
        task = self.operations.pop(operation_id, None)
        if task is not None:
            task.cancel()

    async def shut_down(self, payload: dict[str, Any]) -> None:
        """End the stream for a drain (api/drain.py): each running operation's last event
        is a `next` carrying `payload` (the SHUTTING_DOWN error), and no `complete`
        follows. graphql-sse's client (2.6.1, lib/client.mjs `connect`) takes a stream
        that ends while operations wait for `complete` as a NetworkError and retries
        them (a `complete` would end them for good; an unknown event type is fatal)."""
        running = list(self.operations)
        await self.close()
        for key in running:
            await self._queue.put(next_event(payload, key or None))
        await self._queue.put(None)

    async def close(self) -> None:
        """Cancel every operation and wait until each has unwound."""
        self.closed = True
        tasks = list(self.operations.values())
        self.operations.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def pump(self, send: Send, receive: Receive, *, keep_alive: float) -> None:
        """Write the stream to the client until it leaves or the stream ends."""
        gone = asyncio.create_task(_client_gone(receive), name="sse-disconnect")
        try:
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
            # A comment at once: some user agents want a body before they report the stream.
            await send({"type": "http.response.body", "body": KEEP_ALIVE, "more_body": True})
            while True:
                getter = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait(
                    {getter, gone}, timeout=keep_alive, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done:
                    getter.cancel()
                    return
                if getter not in done:
                    getter.cancel()
                    await send(
                        {"type": "http.response.body", "body": KEEP_ALIVE, "more_body": True}
                    )
                    continue
                chunk = getter.result()
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            await self.close()


class Reservation(EventStream):
    """A stream reserved by PUT, opened by the first stream request with its token."""

    def __init__(self, token: str, auth_scope: str, *, max_operations: int) -> None:
        super().__init__(max_operations=max_operations)
        self.token = token
        self.auth_scope = auth_scope
        self.opened = False  # set when its stream request is accepted: one stream only


class Reservations:
    """This process's reservations by token."""

    def __init__(self, *, max_operations: int, ttl: float = RESERVATION_SECONDS) -> None:
        self.max_operations = max_operations
        self.ttl = ttl
        self._by_token: dict[str, Reservation] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._by_token)

    def reserve(self, auth_scope: str) -> Reservation | None:
        """A new reservation, or None when this process holds MAX_RESERVATIONS already."""
        if len(self._by_token) >= MAX_RESERVATIONS:
            return None
        token = secrets.token_urlsafe(32)
        reservation = Reservation(token, auth_scope, max_operations=self.max_operations)
        self._by_token[token] = reservation
        asyncio.get_running_loop().call_later(self.ttl, self._expire, reservation)
        return reservation

    def get(self, token: str | None) -> Reservation | None:
        reservation = self._by_token.get(token) if token else None
        return None if reservation is None or reservation.closed else reservation

    async def drop_unopened(self) -> None:
        """Forget every reservation whose stream is not open (at drain: its client reserves
        again, elsewhere); open ones end with their streams."""
        for token, reservation in list(self._by_token.items()):
            if not reservation.opened:
                del self._by_token[token]
                await reservation.close()

    def _expire(self, reservation: Reservation) -> None:
        if not reservation.opened and self._by_token.get(reservation.token) is reservation:
            del self._by_token[reservation.token]
            task = asyncio.ensure_future(reservation.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def serve(
        self, reservation: Reservation, send: Send, receive: Receive, *, keep_alive: float
    ) -> None:
        """The reserved stream, until its client leaves; then the token is gone."""
        reservation.opened = True
        try:
            await reservation.pump(send, receive, keep_alive=keep_alive)
        finally:
            if self._by_token.get(reservation.token) is reservation:
                del self._by_token[reservation.token]


async def _client_gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _aclose(payloads: AsyncIterator[dict[str, Any]]) -> None:
    closer = getattr(payloads, "aclose", None)
    if closer is not None:
        await closer()
