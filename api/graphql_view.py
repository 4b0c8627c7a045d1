"""The GraphQL endpoint: Strawberry's ASGI view with our context, cache and limits."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api import metrics
from api.auth import ApiKeys
from api.graphiql import graphiql_response
from api.legacy_ws import LegacyWSHandler
from api.response_cache import ResponseCache, operation_key
from graph.context import Context, build_context
from graph.errors import Code, GraphError, error_body
from graph.settings import Settings
from graph.sources.snapshots import Sources

CACHE_HEADER = "x-matchgraph-cache"


class MatchGraphView(GraphQL[Context, None]):
    """Strawberry's view plus: per-operation context, response cache, timeout, orjson."""

    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        schema: Any,
        *,
        settings: Settings,
        sources: Sources,
        keys: ApiKeys,
        cache: ResponseCache | None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            keep_alive=True,
            keep_alive_interval=15,
            max_subscriptions_per_connection=settings.max_subscriptions,
            # Cross-origin WebSocket handshakes follow the same allow-list as CORS.
            allowed_origins=settings.cors_allowed_origins,
        )
        self.settings = settings
        self.sources = sources
        self.keys = keys
        self.cache = cache
        # Process-wide clients the lifespan opens (task queue, model info cache, ...).
        self.services: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self._cached(request) if self.cache is not None else None
        if response is None:
            try:
                response = await self.run(request)
            except HTTPException as exc:
                code = Code.BAD_USER_INPUT if exc.status_code < 500 else Code.INTERNAL
                metrics.graphql_error(code)
                body = orjson.dumps(error_body(exc.reason, code))
                response = Response(body, exc.status_code, media_type="application/json")
            self._maybe_store(request, response)
        await response(scope, receive, send)

    async def _cached(self, request: Request) -> Response | None:
        key = await self._cache_key(request)
        version = self.sources.version
        assert self.cache is not None
        cached = self.cache.get(key, version) if key and version else None
        if cached is not None:
            metrics.CACHE_RESULTS["hit"].inc()
            return Response(cached, media_type="application/json", headers={CACHE_HEADER: "hit"})
        request.state.cache_key = key
        return None

    async def _cache_key(self, request: Request) -> str | None:
        """The operation's cache key, or None for anything that is not a plain query."""
        if request.method == "GET":
            params = request.query_params
            query, name, raw_vars = (
                params.get("query"),
                params.get("operationName"),
                params.get("variables"),
            )
        elif request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            try:
                payload = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return None
            if not isinstance(payload, dict):
                return None
            query, name, raw_vars = (
                payload.get("query"),
                payload.get("operationName"),
                payload.get("variables"),
            )
        else:
            return None
        if not isinstance(query, str):
            return None
        scope = getattr(request.state, "auth_scope", "open")
        return operation_key(query, name if isinstance(name, str) else None, raw_vars, scope)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        scope = getattr(request.state, "auth_scope", "open")
        context = await build_context(
            self.settings,
            self.sources,
            per_operation=isinstance(request, WebSocket),
            auth_scope=scope,
            request=request,
            response=response,
            **self.services,
        )
        if isinstance(request, Request):
            request.state.graphql_context = context
        return context

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response()  # vendored assets, strict CSP

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        limit = self.settings.operation_timeout
        try:
            async with asyncio.timeout(limit):
                return await super().execute_single(*args, **kwargs)
        except TimeoutError:
            metrics.graphql_error(Code.TIMEOUT)
            error = GraphError(f"operation exceeded the {limit:g} s limit", Code.TIMEOUT)
            return ExecutionResult(data=None, errors=[error])

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = process_result(result)
        context: Context | None = getattr(request.state, "graphql_context", None)
        if context is not None:
            if result.errors:
                context.uncacheable()
            processed["extensions"] = {
                **(processed.get("extensions") or {}),
                "dataVersion": context.data.version,
                "loaderBatches": dict(context.loaders.batches),
            }
        return processed

    def _maybe_store(self, request: Request, response: Response) -> None:
        key: str | None = getattr(request.state, "cache_key", None)
        context: Context | None = getattr(request.state, "graphql_context", None)
        if self.cache is None or context is None:  # no cache, or no operation ran
            return
        if key is not None and context.cacheable and response.status_code == 200:
            self.cache.put(key, context.data.version, bytes(response.body))
            response.headers[CACHE_HEADER] = "miss"
            metrics.CACHE_RESULTS["miss"].inc()
        else:
            metrics.CACHE_RESULTS["uncacheable"].inc()

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params
        if self.keys.scope_of_params(params) is None:
            raise ConnectionRejectionError({"message": "missing or invalid API key"})
        unset: UnsetType = UNSET
        return unset
