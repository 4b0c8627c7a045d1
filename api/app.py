"""create_app(settings): the ASGI application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from api import metrics, probes, reports
from api.auth import ApiKeyMiddleware, ApiKeys
from api.graphiql import GRAPHIQL_STATIC_PATH, graphiql_static_app
from api.graphql_view import MatchGraphView
from api.limits import BodyLimitMiddleware
from api.metrics_graphql import OperationMetrics
from api.metrics_http import MetricsMiddleware, metrics_endpoint
from api.response_cache import ResponseCache
from api.sse.route import GraphQLStream
from api.task_queue import open_task_queue
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

log = logging.getLogger("matchgraph")


# A 5000-card response allocates about a million objects, nearly all freed by
# reference counting. At Python's default thresholds (700, 10, 10) that costs
# hundreds of young collections and a few full ones per request, each holding
# the event loop: the longest loop stall of a planned 5000-card page went from
# 68 to 27 ms with these (in-process, /tmp measurement in the issue-9 note).
GC_THRESHOLDS = (10_000, 50, 100)


def create_app(settings: Settings | None = None) -> Starlette:
    """The whole HTTP surface; clients are opened in the lifespan, not here."""
    settings = settings or Settings()
    metrics.check_mode(settings)
    storage = build_storage(settings)
    sources = Sources(
        storage, refresh_seconds=settings.refresh_seconds, on_error=metrics.source_failed
    )
    keys = ApiKeys(settings)
    cache_bytes = int(settings.response_cache_mb * 2**20)
    view = MatchGraphView(
        build_schema(settings, observers=[OperationMetrics]),
        settings=settings,
        sources=sources,
        keys=keys,
        cache=ResponseCache(cache_bytes) if cache_bytes else None,
    )
    # Coded errors for operations beyond MATCHGRAPH_MAX_SUBSCRIPTIONS (the legacy
    # protocol's handler, api/legacy_ws.py, does the same).
    view.graphql_transport_ws_handler_class = TransportWSHandler

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not keys.enabled:
            log.warning(
                "no API token configured: the API is open (MATCHGRAPH_ENV=%s)", settings.env
            )
        async with contextlib.AsyncExitStack() as stack:
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
            view.services = app.state.services = Services(
                tasks=queue.client,
                model_info=ModelInfoCache(settings.model_info_ttl),
                livescores=livescores,
                live_score_feed=feed,
                health_checks=(queue, queue.workers, livescores),
            )
            await sources.refresh()  # warm every snapshot so /ready turns green
            # The snapshots live long: keep full collections from re-scanning them.
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            refresher = asyncio.create_task(sources.run_refresher(), name="snapshot-refresher")
            warmer = asyncio.create_task(keep_tables_warm(sources), name="analytics-warmer")
            try:
                yield
            finally:
                for task in (refresher, warmer):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = Starlette(routes=_routes(view), middleware=_middleware(settings, keys), lifespan=lifespan)
    app.state.settings = settings
    app.state.sources = sources
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


def _middleware(settings: Settings, keys: ApiKeys) -> list[Middleware]:
    return [
        Middleware(MetricsMiddleware),  # outermost: 401, 413 and CORS answers count too
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
