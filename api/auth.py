"""API-key authentication: `X-API-Key` header or `token` query parameter, by named key.

Every key has a name (MATCHGRAPH_API_KEYS `name:key,...`; FASTAPI_HEADER_TOKEN
and FASTAPI_QUERY_TOKEN are the keys `header` and `query`). The matched key's
name is the request's `auth_scope`: it separates response-cache entries, SSE
reservations and rate-limit budgets, and labels metrics; the key itself goes
nowhere. A credential is compared with every key, in constant time, whatever
matches first: how long a refusal takes says nothing about which names exist.

Named keys work in either place; the two old keys keep their old place (the
header token only as `X-API-Key`, the query token only as `?token=`), as
deployments and tests of the old service rely on.

Checked before any GraphQL work. WebSocket clients authenticate in
`connection_init` instead (see the GraphQL view), and `/graphql/stream` (SSE)
checks each request itself: there a reservation token admits its stream without
a key (api/sse/route.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

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
OPEN_SCOPE = "open"  # the auth scope of every request when no key is configured


@dataclass(frozen=True)
class _Key:
    name: str
    digest: bytes  # SHA-256 of the key: compared digests have one length whatever was sent
    in_header: bool
    in_query: bool


class ApiKeys:
    """The configured keys; `scope_of` names which one a credential matches."""

    def __init__(self, settings: Settings) -> None:
        # The old keys keep their old place: FASTAPI_HEADER_TOKEN (`header`) only in the
        # header, FASTAPI_QUERY_TOKEN (`query`) only in the query string.
        secrets = (("header", settings.header_token), ("query", settings.query_token))
        legacy = {name for name, secret in secrets if secret and secret.get_secret_value()}
        self._keys = [
            _Key(
                name,
                _digest(key),
                in_header=not (name == "query" and name in legacy),
                in_query=not (name == "header" and name in legacy),
            )
            for name, key in settings.named_api_keys.items()
        ]
        self.enabled = bool(self._keys)
        self.names = tuple(key.name for key in self._keys)

    def scope_of(self, header: str | None, token: str | None) -> str | None:
        """The matched key's name ('open' without keys); None when refused."""
        if not self.enabled:
            return OPEN_SCOPE
        header_digest = _digest(header) if header is not None else None
        token_digest = _digest(token) if token is not None else None
        matched: str | None = None
        for key in self._keys:  # every key, always: no early exit on a match
            by_header = _matches(header_digest, key.digest) and key.in_header
            by_token = _matches(token_digest, key.digest) and key.in_query
            if (by_header or by_token) and matched is None:
                matched = key.name
        return matched

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


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _matches(given: bytes | None, expected: bytes) -> bool:
    # compare_digest runs even without a credential, so every key costs the same
    return hmac.compare_digest(given or b"", expected) and given is not None
