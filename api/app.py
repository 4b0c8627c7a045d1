"""create_app(settings): the ASGI application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from api import drain, metrics, probes, reports
from api.auth import ApiKeyMiddleware, ApiKeys
from api.graphiql import GRAPHIQL_STATIC_PATH, graphiql_static_app
from api.graphql_view import MatchGraphView
from api.limits import BodyLimitMiddleware
from api.metrics_graphql import operation_metrics
from api.metrics_http import MetricsMiddleware, metrics_endpoint
from api.persisted.documents import PersistedDocuments
from api.persisted.extension import persisted_documents_check
from api.rate_limit import open_rate_limiter
from api.response_cache import ResponseCache
from api.sse.route import GraphQLStream
from api.task_queue import open_task_queue
from api.tracing import open_tracing
from api.transport_ws import TransportWSHandler
from graph.analytics.table import keep_tables_warm
from graph.schema import build_schema
from graph.services import Services
from graph.settings import Settings
from graph.sources.factory import build_storage
from graph.sources.livescores import open_live_scores
from graph.sources.snapshots import Sources
from graph.taskqueue.cache import ModelInfoCache
from graph.taskqueue.livescore_feed import LiveScoreFeed

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("matchgraph")


# A 5000-card response allocates about a million objects, nearly all freed by
# reference counting. At Python's default thresholds (700, 10, 10) that costs
# hundreds of young collections and a few full ones per request, each holding
# the event loop: the longest loop stall of a planned 5000-card page went from
# 68 to 27 ms with these (in-process, /tmp measurement in the issue-9 note).
GC_THRESHOLDS = (10_000, 50, 100)


def create_app(
    settings: Settings | None = None, *, span_exporter: SpanExporter | None = None
) -> Starlette:
    """The whole HTTP surface; clients are opened in the lifespan, not here.

    `span_exporter` replaces the exporter the OTEL_* environment names when tracing is
    on (MATCHGRAPH_OTEL_ENABLED; api/tracing.py): tests pass the SDK's in-memory one.
    """
    settings = settings or Settings()
    metrics.check_mode(settings)
    storage = build_storage(settings)
    sources = Sources(
        storage, refresh_seconds=settings.refresh_seconds, on_error=metrics.source_failed
    )
    keys = ApiKeys(settings)
    cache_bytes = int(settings.response_cache_mb * 2**20)
    operation_names = metrics.OperationNames(settings.metrics_max_operation_names)
    # Checks MATCHGRAPH_PERSISTED_DOCUMENTS now: a bad manifest stops the start (ManifestError).
    persisted = PersistedDocuments.from_settings(settings)
    view = MatchGraphView(
        build_schema(
            settings,
            observers=[operation_metrics(operation_names), persisted_documents_check(persisted)],
        ),
        settings=settings,
        sources=sources,
        keys=keys,
        cache=ResponseCache(cache_bytes) if cache_bytes else None,
    )
    # Coded errors for operations beyond MATCHGRAPH_MAX_SUBSCRIPTIONS (the legacy
    # protocol's handler, api/legacy_ws.py, does the same).
    view.graphql_transport_ws_handler_class = TransportWSHandler
    view.persisted = persisted

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if not keys.enabled:
            log.warning(
                "no API token configured: the API is open (MATCHGRAPH_ENV=%s)", settings.env
            )
        async with contextlib.AsyncExitStack() as stack:
            # First in, last out: spans of the shutdown are still exported.
            await stack.enter_async_context(open_tracing(settings, exporter=span_exporter))
            await stack.enter_async_context(storage)
            livescores = await stack.enter_async_context(
                open_live_scores(settings, check_every=settings.refresh_seconds)
            )
            # Live-score changes ride on the task queue's one pub/sub subscription.
            feed = LiveScoreFeed(livescores)
            feed.start()
            stack.push_async_callback(feed.stop)
            channels = {settings.redis_names.live_scores_channel: feed}
            queue = await stack.enter_async_context(open_task_queue(settings, channels=channels))
            limiter = await stack.enter_async_context(open_rate_limiter(settings))
            await stack.enter_async_context(persisted.open_registry())  # APQ, in Redis
            view.services = app.state.services = Services(
                tasks=queue.client,
                model_info=ModelInfoCache(settings.model_info_ttl),
                livescores=livescores,
                live_score_feed=feed,
                health_checks=(queue, queue.workers, livescores),
                rate_limiter=limiter,
            )
            await sources.refresh()  # warm every snapshot so /ready turns green
            # The snapshots live long: keep full collections from re-scanning them.
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            refresher = asyncio.create_task(sources.run_refresher(), name="snapshot-refresher")
            warmer = asyncio.create_task(keep_tables_warm(sources), name="analytics-warmer")
            try:
                # The lifespan state is how the server (api/serving.py) finds the drain.
                yield {drain.STATE_KEY: view.drain}
            finally:
                for task in (refresher, warmer):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = Starlette(
        routes=_routes(view), middleware=_middleware(settings, keys, view.drain), lifespan=lifespan
    )
    app.state.settings = settings
    app.state.sources = sources
    app.state.operation_names = operation_names  # label values of operation names (api/metrics.py)
    app.state.drain = view.drain  # SIGTERM's graceful drain (api/drain.py): /ready reads it
    app.state.services = view.services  # none until the lifespan opens them
    return app


def _routes(view: MatchGraphView) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/", probes.root),
        Route("/health", probes.health),
        Route("/ready", probes.ready),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/reports/{filename:path}", reports.open_report, methods=["GET"]),
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
        # GraphQL over Server-Sent Events (graphql-sse), auth checked there (api/sse/route.py).
        Route("/graphql/stream", GraphQLStream(view), methods=["GET", "POST", "PUT", "DELETE"]),
        Mount(GRAPHIQL_STATIC_PATH, app=graphiql_static_app()),
    ]
    return routes


def _middleware(settings: Settings, keys: ApiKeys, draining: drain.Drain) -> list[Middleware]:
    return [
        Middleware(MetricsMiddleware),  # outermost: 401, 413 and CORS answers count too
        Middleware(drain.DrainMiddleware, drain=draining),  # `Connection: close` once draining
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            # PUT and DELETE, and the token header: graphql-sse's single-connection mode
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "X-GraphQL-Event-Stream-Token"],
            max_age=600,
        ),
        Middleware(ApiKeyMiddleware, keys=keys, metrics_auth=settings.metrics_auth),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
    ]
