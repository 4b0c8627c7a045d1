"""The GraphQL endpoint: Strawberry's ASGI view with our context, cache and limits."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api import metrics
from api.auth import ApiKeys
from api.drain import Drain
from api.graphiql import graphiql_response
from api.http_media import (
    GRAPHQL_RESPONSE_CONTENT_TYPE,
    is_subscription,
    operation_name_required,
    request_error_status,
    response_content_type,
    unnamed_among_several,
    websocket_required,
)
from api.legacy_ws import LegacyWSHandler
from api.operation_guard import run_guarded
from api.persisted.documents import PersistedDocuments
from api.persisted.http import prepare as prepare_persisted
from api.rate_limit import HttpRateLimits, refusal_response, refused
from api.response_cache import ResponseCache, operation_key
from api.ws_adapter import TextFrameWebSocketAdapter
from graph.adapters.strawberry import GraphQLViewBase, PreExecutionError
from graph.batching import Loaders
from graph.context import Context, build_context
from graph.errors import Code, error_body
from graph.services import Services
from graph.settings import Settings
from graph.sources.snapshots import Sources

CACHE_HEADER = "x-matchgraph-cache"
# `X-Matchgraph-Debug: 1` asks for debug extensions (plan, loaderBatches), when the settings
# allow.
DEBUG_HEADER = "x-matchgraph-debug"
# `X-Matchgraph-Cost-Only: 1`: a dry run, answered with the operation's estimated cost and
# nothing executed; never served from or stored in the response cache.
COST_ONLY_HEADER = "x-matchgraph-cost-only"


class MatchGraphView(GraphQLViewBase[Context, None]):
    """Strawberry's view plus: per-operation context, response cache, timeout, orjson."""

    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = TextFrameWebSocketAdapter
    # Persisted documents (api/persisted): set by create_app; None serves documents only.
    persisted: PersistedDocuments | None = None

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
        # Process-wide clients the lifespan opens (task queue, model info cache, ...);
        # none until it runs.
        self.services = Services()
        # Whose budget a request spends, its 429 and RateLimit headers (api/rate_limit.py).
        self.rate_limits = HttpRateLimits(settings)
        # The graceful drain every transport registers its subscriptions with (api/drain.py).
        self.drain = Drain()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        # A request naming its document by id goes on as the request with the document,
        # or is answered (unknown id, refused document) before anything else.
        request, response = await self._persisted_request(request)
        # A debug answer is never cached, nor answered from the cache: its extensions
        # are for this request only.
        request.state.debug = self._debug(request)
        # Nor is a dry run: it must neither answer from a real request's entry nor leave one.
        request.state.cost_only = request.headers.get(COST_ONLY_HEADER) == "1"
        cached = self.cache is not None and not request.state.debug and not request.state.cost_only
        if response is None and cached:
            response = await self._cached(request)
        if response is None:
            try:
                response = await self.run(request)
            except HTTPException as exc:
                code = Code.BAD_USER_INPUT if exc.status_code < 500 else Code.INTERNAL
                metrics.graphql_error(code)
                body = orjson.dumps(error_body(exc.reason, code))
                response = Response(body, exc.status_code, media_type="application/json")
            self._maybe_store(request, response)
        if self.services.rate_limiter is not None:
            await self.rate_limits.add_headers(self.services.rate_limiter, request, response)
        await response(scope, receive, send)

    async def _persisted_request(self, request: Request) -> tuple[Request, Response | None]:
        """Persisted documents (api/persisted/http.py): the request, or the one its document
        id stands for; or the answer to it."""
        if self.persisted is None:
            return request, None
        prepared = await prepare_persisted(self.persisted, request)
        return (request, prepared) if isinstance(prepared, Response) else (prepared, None)

    def _debug(self, request: Request) -> bool:
        return self.settings.effective_debug_extensions and request.headers.get(DEBUG_HEADER) == "1"

    async def _cached(self, request: Request) -> Response | None:
        key = await self._cache_key(request)
        version = self.sources.version
        assert self.cache is not None
        cached = self.cache.get(key, version) if key and version else None
        if cached is not None:
            metrics.CACHE_RESULTS["hit"].inc()
            media_type = response_content_type(request.headers.get("accept"))
            limiter = self.services.rate_limiter
            if limiter is not None:  # a hit is charged 1; over budget, not served
                verdict = await self.rate_limits.charge_cache_hit(limiter, request)
                if not verdict.allowed:
                    return refusal_response(verdict, media_type)
            headers = {CACHE_HEADER: "hit", "vary": "Accept"}
            return Response(cached, media_type=media_type, headers=headers)
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
            if params.get("extensions") and not _decodes_to_object(params["extensions"]):
                return None  # refused by the view with 400, never answered from the cache
        elif request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            try:
                payload = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return None
            if not isinstance(payload, dict) or not _well_typed(payload):
                return None  # refused by the view with 400, never answered from the cache
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
        cost_only = isinstance(request, Request) and getattr(request.state, "cost_only", False)
        context = await build_context(
            self.settings,
            self.sources,
            new_loaders=Loaders,
            services=self.services,
            per_operation=isinstance(request, WebSocket),
            auth_scope=scope,
            request=request,
            response=response,
            cost_only=cost_only,
            client_address=self.rate_limits.budget_address(request, self.services.rate_limiter),
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

    async def guard_operation(
        self, operation: Coroutine[Any, Any, ExecutionResult], *, request: Request, context: Context
    ) -> ExecutionResult:
        """The operation under its time limit, stopped if its client hangs up."""
        return await run_guarded(
            operation,
            stop=context.stop,
            receive=request.receive,
            limit=self.settings.operation_timeout,
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        context: Context | None = getattr(request.state, "graphql_context", None)
        if context is not None and self.services.rate_limiter is not None:
            result = await self.rate_limits.charge_unexecuted(
                self.services.rate_limiter, context, result
            )
        processed = process_result(result)
        if context is not None and context.cost_only:
            context.uncacheable()
            cost = (result.extensions or {}).get("cost")
            if result.data is None and not result.errors and cost is not None:
                return {"extensions": {"cost": cost}}  # the dry run's answer: no `data`
        if context is not None:
            if result.errors:
                context.uncacheable()
            extensions = {
                **(processed.get("extensions") or {}),
                "dataVersion": context.data.version,
            }
            if getattr(request.state, "debug", False):
                extensions["plan"] = dict(context.loaders.plans)
                extensions["loaderBatches"] = dict(context.loaders.batches)
            processed["extensions"] = extensions
            status = request_error_status(result, getattr(context.response, "media_type", None))
            if status is not None:  # nothing executed: no `data` entry
                processed.pop("data", None)
                context.response.status_code = status
            if refused(context):  # over the rate limit: nothing executed
                context.uncacheable()
                processed.pop("data", None)
                context.response.status_code = 429
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

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # application/graphql-response+json when the client prefers it (read by
        # process_result and create_response); the header itself is set once, there.
        sub_response.media_type = response_content_type(request.headers.get("accept"))
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE_CONTENT_TYPE:
            response.headers["content-type"] = sub_response.media_type
        response.headers.add_vary_header("Accept")
        return response

    def parse_json(self, data: str | bytes) -> Any:
        """A request body (and GET `variables`/`extensions`): a JSON object, or an array
        (a batch, refused unless batching is on); anything else is a 400, not a crash."""
        value = super().parse_json(data)
        if not isinstance(value, dict | list):
            kind = "null" if value is None else type(value).__name__
            raise HTTPException(400, f"Expected a JSON object (a GraphQL request), got {kind}")
        return value

    def check_request_data(self, request_data: GraphQLRequestData) -> None:
        if not isinstance(request_data.operation_name, str | None):
            raise HTTPException(
                400,
                "The GraphQL operation's `operationName` must be a string or null, if provided.",
            )

    def refuse_operation(self, request_data: GraphQLRequestData) -> ExecutionResult | None:
        """A subscription over HTTP would run as a query and fail inside (INTERNAL): point
        the client at the WebSocket instead (GraphiQL posts one before its socket is up)."""
        if is_subscription(
            request_data.query, request_data.operation_name, self.settings.max_tokens
        ):
            metrics.graphql_error(Code.WEBSOCKET_REQUIRED)
            return PreExecutionError(data=None, errors=[websocket_required()])
        if unnamed_among_several(
            request_data.query, request_data.operation_name, self.settings.max_tokens
        ):
            metrics.graphql_error(Code.BAD_USER_INPUT)
            return PreExecutionError(data=None, errors=[operation_name_required()])
        return None

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params
        scope = self.keys.scope_of_params(params)
        if scope is None:
            raise ConnectionRejectionError({"message": "missing or invalid API key"})
        context.auth_scope = scope  # the key's name: its budget pays for the subscriptions
        unset: UnsetType = UNSET
        return unset


def _well_typed(payload: dict[str, Any]) -> bool:
    """The request parameters have the JSON types GraphQL over HTTP requires."""
    return (
        isinstance(payload.get("operationName"), str | None)
        and isinstance(payload.get("variables"), dict | None)
        and isinstance(payload.get("extensions"), dict | None)
    )


def _decodes_to_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False
