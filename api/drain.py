"""Graceful drain: what one API process does between SIGTERM and its exit.

uvicorn tells the application nothing when shutdown starts (the lifespan's
shutdown runs only after every connection ended) and its WebSocket protocol
closes open sockets with a bare 1012 at once. So the server calls `Drain.run`
itself before uvicorn's own shutdown (api/serving.py), and everything that
holds a subscription open registers a closer here (`track`):

1. `draining` turns true: `/ready` answers 503, gauge `matchgraph_draining` is 1,
   new SSE streams and reservations are refused with 503 `SHUTTING_DOWN`,
   HTTP answers carry `Connection: close` (the client's next request opens a
   connection, which lands on another replica: this one stopped listening).
2. Every registered subscription holder is closed with the reason its
   protocol lets a client act on (see `WS_CLOSE_CODE` and api/sse/streams.py).
3. HTTP requests still running (and any that arrive on a kept-alive
   connection meanwhile, answered as usual) may finish until the deadline.

What is left at the deadline uvicorn cuts off (tasks cancelled, WebSockets
closed with 1012); the process then exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics

log = logging.getLogger(__name__)

# The key under which the lifespan hands the Drain to the server (ASGI lifespan state).
STATE_KEY = "matchgraph.drain"
# RFC 6455 / IANA "Service Restart": graphql-ws's client treats it as non-fatal and
# reconnects with its retry back-off (isFatalInternalCloseCode in graphql-ws 6.4.2
# dist/client.js). The reason text names the code clients can match on.
WS_CLOSE_CODE = 1012
WS_CLOSE_REASON = "SHUTTING_DOWN: reconnect"
# Time closers get to say goodbye before the wait for running requests starts.
CLOSE_SECONDS = 2.0

Closer = Callable[[], Awaitable[None]]


class Drain:
    """One process's drain state and the subscription holders that registered."""

    def __init__(self) -> None:
        self.draining = False
        self._closers: dict[int, Closer] = {}
        self._next_key = 0
        self._requests = 0  # HTTP requests being answered (SSE streams included)
        self._idle: asyncio.Event | None = None  # set when `_requests` drops to 0 (at drain)

    @property
    def requests(self) -> int:
        return self._requests

    def add(self, closer: Closer) -> Callable[[], None]:
        """Register `closer` (run once, at drain); returns what unregisters it."""
        key = self._next_key
        self._next_key += 1
        self._closers[key] = closer
        return lambda: self._closers.pop(key, None) and None

    @contextlib.contextmanager
    def track(self, closer: Closer) -> Iterator[None]:
        """Register `closer` for as long as the block runs (one open subscription holder)."""
        remove = self.add(closer)
        try:
            yield
        finally:
            remove()

    def begin(self) -> None:
        """Turn draining on (idempotent): /ready 503, new streams refused."""
        if not self.draining:
            self.draining = True
            metrics.DRAINING.set(1)
            log.info("draining: %d subscription holder(s) to close", len(self._closers))

    async def run(self, seconds: float) -> float:
        """The whole drain, bounded by `seconds`; returns the seconds left of that bound."""
        deadline = time.monotonic() + seconds
        self.begin()
        await self.close_subscriptions(min(CLOSE_SECONDS, seconds))
        await self.wait_for_requests(deadline - time.monotonic())
        left = max(0.0, deadline - time.monotonic())
        log.info("drained: %d request(s) still running, %.1f s left", self._requests, left)
        return left

    async def close_subscriptions(self, within: float) -> None:
        """Run every registered closer at once; those not done `within` seconds are left
        to uvicorn's cut-off."""
        closers = list(self._closers.values())
        self._closers.clear()
        if not closers:
            return
        tasks = [asyncio.ensure_future(_quietly(closer)) for closer in closers]
        _, pending = await asyncio.wait(tasks, timeout=max(within, 0.01))
        for task in pending:
            task.cancel()

    async def wait_for_requests(self, within: float) -> None:
        """Until no HTTP request runs, or `within` seconds passed."""
        if not self._requests:
            return
        self._idle = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), max(within, 0.0))

    def request_started(self) -> None:
        self._requests += 1

    def request_ended(self) -> None:
        self._requests -= 1
        if not self._requests and self._idle is not None:
            self._idle.set()


async def _quietly(closer: Closer) -> None:
    try:
        await closer()
    except Exception:  # a client that left meanwhile: nothing to tell it
        log.debug("drain: a closer failed", exc_info=True)


class DrainMiddleware:
    """Counts HTTP requests being answered; while draining, every answer gets
    `Connection: close`, so a kept-alive client reconnects (elsewhere) for its next one."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        drain = self.drain

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and drain.draining:
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        drain.request_started()
        try:
            await self.app(scope, receive, send_closing)
        finally:
            drain.request_ended()


async def hold_websocket(
    drain: Drain, websocket: Any, handle: Closer, stop_operations: Closer
) -> None:
    """Run a WebSocket protocol handler's `handle` as a subscription holder.

    At drain its operations stop without `complete` (a completed operation is
    one the graphql-ws client never subscribes again), then the socket closes
    with WS_CLOSE_CODE: the client reconnects and subscribes again. A socket
    opened while draining is closed at once.
    """
    if drain.draining:
        await close_websocket(websocket)
        return

    async def close() -> None:
        await stop_operations()
        await close_websocket(websocket)

    with drain.track(close):
        await handle()


async def close_websocket(websocket: Any) -> None:
    """Close with the drain's code and reason (Strawberry's adapter: `close(code, reason)`)."""
    with contextlib.suppress(RuntimeError):  # already closed (the client left first)
        await websocket.close(code=WS_CLOSE_CODE, reason=WS_CLOSE_REASON)
