"""API-key authentication: `X-API-Key` header or `token` query parameter.

Checked before any GraphQL work, compared in constant time. WebSocket
clients authenticate in `connection_init` instead (see the GraphQL view), and
`/graphql/stream` (SSE) checks each request itself: there a reservation token
admits its stream without a key (api/sse/route.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api import metrics
from graph.errors import Code, error_body
from graph.settings import Settings

OPEN_PATHS = frozenset({"/health", "/ready"})
SELF_AUTHENTICATED_PATHS = frozenset({"/graphql/stream"})
STATIC_PREFIX = "/graphiql-static/"


class ApiKeys:
    """The configured keys; `scope_of` names which one a credential matches."""

    def __init__(self, settings: Settings) -> None:
        self._header = _secret(settings.header_token)
        self._query = _secret(settings.query_token)
        self.enabled = settings.auth_enabled

    def scope_of(self, header: str | None, token: str | None) -> str | None:
        """'open', 'header' or 'query' when allowed, None when refused."""
        if not self.enabled:
            return "open"
        if self._header and header is not None and _same(header, self._header):
            return "header"
        if self._query and token is not None and _same(token, self._query):
            return "query"
        return None

    def scope_of_params(self, params: Mapping[str, object] | None) -> str | None:
        """Scope for a WebSocket `connection_init` payload."""
        params = params or {}
        header = params.get("X-API-Key", params.get("x-api-key"))
        token = params.get("token")
        return self.scope_of(
            header if isinstance(header, str) else None, token if isinstance(token, str) else None
        )


class ApiKeyMiddleware:
    """Refuses HTTP requests without a valid key with 401 before GraphQL runs."""

    def __init__(self, app: ASGIApp, *, keys: ApiKeys, metrics_auth: bool = False) -> None:
        self.app = app
        self.keys = keys
        self.open_paths = OPEN_PATHS if metrics_auth else OPEN_PATHS | {"/metrics"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys.enabled or self._is_open(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token = QueryParams(scope.get("query_string", b"")).get("token")
        allowed = self.keys.scope_of(headers.get("x-api-key"), token)
        if allowed is None:
            await _unauthorized(send)
            return
        scope.setdefault("state", {})["auth_scope"] = allowed
        await self.app(scope, receive, send)

    def _is_open(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path in self.open_paths or path in SELF_AUTHENTICATED_PATHS:
            return True
        if path.startswith(STATIC_PREFIX):
            return True
        return path == "/graphql" and _is_ide_page_request(scope)


def _is_ide_page_request(scope: Scope) -> bool:
    """GET /graphql from a browser without an operation: the GraphiQL page itself."""
    if scope["method"] != "GET":
        return False
    params = QueryParams(scope.get("query_string", b""))
    return "query" not in params and "text/html" in Headers(scope=scope).get("accept", "")


async def _unauthorized(send: Send) -> None:
    metrics.graphql_error(Code.UNAUTHENTICATED)
    body = orjson.dumps(error_body("missing or invalid API key", Code.UNAUTHENTICATED))
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *UNAUTHORIZED_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


UNAUTHORIZED_HEADERS = [(b"www-authenticate", b'ApiKey header="X-API-Key"')]


def unauthorized_response() -> Response:
    """The middleware's 401, for endpoints that authenticate themselves."""
    metrics.graphql_error(Code.UNAUTHENTICATED)
    body = orjson.dumps(error_body("missing or invalid API key", Code.UNAUTHENTICATED))
    headers = {name.decode(): value.decode() for name, value in UNAUTHORIZED_HEADERS}
    return Response(body, 401, headers=headers, media_type="application/json")


def _secret(value: object) -> bytes | None:
    getter = getattr(value, "get_secret_value", None)
    return getter().encode() if getter else None


def _same(given: str, expected: bytes) -> bool:
    return hmac.compare_digest(given.encode(), expected)
