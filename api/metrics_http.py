"""HTTP side of the metrics: the ASGI middleware and `GET /metrics`.

The middleware labels requests by route template (never the raw path), so
label values stay bounded whatever clients send. `/metrics` reads what only
exists at scrape time (sources, health, Redis) into gauges, then renders.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from graph.health import HealthCheck
from graph.services import Services
from graph.sources.snapshots import SnapshotSet, Sources
from graph.sources.tables import ODDS, PREDICTIONS
from graph.taskqueue.client import TaskClient
from graph.taskqueue.errors import QueueUnavailable

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 1.0  # seconds a scrape waits for Redis before reporting NaN
UNMATCHED = "unmatched"  # the route label of paths no route serves
_METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_PROTOCOLS = frozenset({"graphql-transport-ws", "graphql-ws"})
_MAX_CACHED_PATHS = 1024


class MetricsMiddleware:
    """Counts and times HTTP requests by method, route template and status; counts open
    WebSocket connections by sub-protocol. Outermost, so 401/413/500 answers count too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, str] = {}  # path -> route template, bounded
        # Label children by label values (all bounded): `labels()` costs a lock and checks.
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._counts: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        method = scope["method"] if scope["method"] in _METHODS else "other"
        status = 500  # unless the application starts a response
        streaming = False

        async def send_status(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                streaming = is_event_stream(message)
            await send(message)

        children = self._children.get((method, route))
        if children is None:
            children = self._children[method, route] = (
                metrics.REQUESTS_IN_PROGRESS.labels(route),
                metrics.REQUEST_DURATION.labels(method, route),
            )
        in_progress, duration = children
        in_progress.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            if not streaming:  # a stream's lifetime is no latency: matchgraph_sse_streams
                duration.observe(time.perf_counter() - start)
            counter = self._counts.get((method, route, status))
            if counter is None:
                counter = self._counts[method, route, status] = metrics.REQUESTS.labels(
                    method, route, str(status)
                )
            counter.inc()
            in_progress.dec()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        gauge: Any = None

        async def send_accept(message: Message) -> None:
            nonlocal gauge
            if message["type"] == "websocket.accept" and gauge is None:
                protocol = message.get("subprotocol")
                gauge = metrics.WEBSOCKET_CONNECTIONS.labels(
                    protocol if protocol in _PROTOCOLS else "other"
                )
                gauge.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_accept)
        finally:
            if gauge is not None:
                gauge.dec()

    def _route(self, scope: Scope) -> str:
        path: str = scope["path"]
        template = self._routes.get(path)
        if template is None:
            template = route_template(scope)
            if len(self._routes) < _MAX_CACHED_PATHS:
                self._routes[path] = template
        return template


def is_event_stream(start: Message) -> bool:
    """An `http.response.start` of a Server-Sent Events stream (/graphql/stream's streams).

    Such a response lasts as long as its subscriptions (minutes, hours): observed in
    the request-duration histogram it would crowd every bucket past the last one and
    make its quantiles meaningless; a label of its own would fare no better with
    latency buckets. Streams are counted in `matchgraph_requests_total` as usual and
    open ones in `matchgraph_sse_streams`; their refusals (JSON) are observed.
    """
    for name, value in start.get("headers", ()):
        if name.lower() == b"content-type":
            return bytes(value).lower().startswith(b"text/event-stream")
    return False


def route_template(scope: Scope) -> str:
    """The template of the route that serves `scope` (a 405 still names its route)."""
    partial: str | None = None
    for route in getattr(scope.get("app"), "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(route.path_format)
        if match is Match.PARTIAL and partial is None:
            partial = str(route.path_format)
    return partial or UNMATCHED


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format; open unless MATCHGRAPH_METRICS_AUTH=true (see ApiKeyMiddleware)."""
    state = request.app.state
    observe_sources(state.sources)
    services: Services = state.services
    observe_health(state.sources, services.health_checks)
    await observe_queue(services.tasks, state.settings.redis_names.queues.values())
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


def observe_sources(sources: Sources) -> None:
    now = time.time()
    for status in sources.status():
        rows = status.rows if status.loaded else math.nan
        age = now - status.modified_at.timestamp() if status.modified_at else math.nan
        metrics.SOURCE_ROWS.labels(status.source).set(rows)
        metrics.SOURCE_AGE.labels(status.source).set(age)
    data = sources.in_service
    if data is not None:
        for source, count in orphan_rows(data).items():
            metrics.ORPHAN_ROWS.labels(source).set(count)


_orphans: tuple[str, dict[str, int]] | None = None  # (data version, counts): one set at a time


def orphan_rows(data: SnapshotSet) -> dict[str, int]:
    """Prediction and odds rows whose match is not in the catalogue, per data version."""
    global _orphans
    if _orphans is not None and _orphans[0] == data.version:
        return _orphans[1]
    odds_ids = data.odds.index.to_numpy()
    counts = {
        PREDICTIONS.source: len(data.orphan_ids),
        ODDS.source: int((data.catalog.positions(odds_ids) < 0).sum()),
    }
    _orphans = (data.version, counts)
    return counts


def observe_health(sources: Sources, checks: Sequence[HealthCheck]) -> None:
    """`matchgraph_degraded` per component, as /health decides it."""
    for status in sources.status():
        metrics.DEGRADED.labels(status.source).set(1 if status.error else 0)
    for check in checks:
        component = getattr(check, "name", None) or type(check).__name__
        metrics.DEGRADED.labels(component).set(1 if check.problems() else 0)


async def observe_queue(tasks: TaskClient | None, queues: Iterable[str]) -> None:
    """Queue depth and live workers from Redis; NaN (for each of `queues`) when Redis does
    not answer in time."""
    try:
        if tasks is None:
            raise QueueUnavailable("no task client")
        async with asyncio.timeout(REDIS_TIMEOUT):
            depths = await tasks.queue_depths()
            workers = await tasks.workers()
    except (QueueUnavailable, RedisError, OSError, TimeoutError) as exc:
        log.debug("metrics: Redis not read: %s", exc)
        for queue in queues:
            metrics.QUEUE_DEPTH.labels(queue).set(math.nan)
        for gauge in (metrics.WORKERS_LIVE, metrics.LIVE_PREDICTIONS, metrics.MODEL_CALLS):
            gauge.set(math.nan)
        return
    for queue, depth in depths.items():
        metrics.QUEUE_DEPTH.labels(queue).set(depth)
    alive = [worker for worker in workers if worker.alive]
    metrics.WORKERS_LIVE.set(len(alive))
    metrics.LIVE_PREDICTIONS.set(sum(w.predictions or 0 for w in alive))
    metrics.MODEL_CALLS.set(sum(w.model_calls or 0 for w in alive))
