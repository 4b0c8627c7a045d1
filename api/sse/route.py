"""`/graphql/stream`: the graphql-sse protocol's requests and their answers.

- `POST` (or `GET ?query=`) with `Accept: text/event-stream` and no token:
  distinct connections mode: the operation's `next` events, `complete`, end.
- `PUT`: single connection mode's reservation: 201 and a one-time token
  (text/plain), always a fresh one made here (a token header the client sends
  along is ignored: npm graphql-sse sends its previous one when it reconnects);
  406 unless `Accept` allows text/plain.
- `GET` (or `POST`) with `Accept: text/event-stream` and the token (header
  `X-GraphQL-Event-Stream-Token` or `?token=`): the reserved stream; 404 for an
  unknown token, 409 when it is open already.
- `POST` with the token header: runs the operation under `extensions.operationId`
  on that stream: 202; 400 without an id, 409 for an id in use, 404 unknown
  token, 406 when `Accept` allows no JSON.
- `DELETE ?operationId=` with the token header: stops that operation: 200; 400
  without an id, 404 unknown token.

Auth: the API key as on `/graphql` (header `X-API-Key`, or `?token=` when that
is not a reservation token): 401 `UNAUTHENTICATED` without a valid one. The
reserved stream's request may come without it: the token is its ticket,
issued to an authenticated `PUT` (what a browser's `EventSource`, which sends
no headers, needs). A request naming a reservation made with another key is
403. GraphQL errors (parse, validation, limits, execution) travel as `next`
events with `extensions.code`, as over WebSocket.

Drain (SIGTERM, api/drain.py): every open stream is registered; each of its
operations gets a last `next` with a SHUTTING_DOWN error and the stream ends
without `complete` (EventStream.shut_down); meanwhile every request but DELETE
is refused with 503 SHUTTING_DOWN.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from api import metrics
from api.auth import unauthorized_response
from api.graphql_view import MatchGraphView
from api.sse.operations import limit_error, results
from api.sse.protocol import (
    OPERATION_ID,
    TOKEN_HEADER,
    TOKEN_QUERY,
    Refusal,
    RequestParams,
    accepts_any,
    params_from_body,
    params_from_query,
    wants_event_stream,
)
from api.sse.streams import (
    KEEP_ALIVE_SECONDS,
    EventStream,
    Reservation,
    Reservations,
    StreamClosed,
)
from graph.batching import Loaders
from graph.context import Context, build_context
from graph.errors import Code

StreamRun = Callable[[Send, Receive], Awaitable[None]]
SHUTTING_DOWN_MESSAGE = "The server is shutting down: reconnect (another replica serves)"
# The last `next` of each operation on a stream the drain ends (no `complete` follows).
SHUTTING_DOWN_PAYLOAD = {
    "errors": [{"message": SHUTTING_DOWN_MESSAGE, "extensions": {"code": Code.SHUTTING_DOWN.value}}]
}
PUT_ACCEPTS = frozenset({"*/*", "text/*", "text/plain"})
POST_ACCEPTS = frozenset(
    {"*/*", "application/*", "application/json", "application/graphql-response+json"}
)


class Unauthorized(Exception):
    """No valid API key (nor reservation token where one serves)."""


class GraphQLStream:
    """The ASGI endpoint; `keep_alive` is the longest silence before a `:` comment."""

    def __init__(self, view: MatchGraphView, *, keep_alive: float = KEEP_ALIVE_SECONDS) -> None:
        self.view = view
        self.keep_alive = keep_alive
        self.reservations = Reservations(max_operations=view.settings.max_subscriptions)
        view.drain.add(self.reservations.drop_unopened)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            if self.view.drain.draining and request.method != "DELETE":
                # New streams, reservations and operations go to another replica; the
                # client's retry takes a 503 as a NetworkError (retried).
                raise Refusal(503, SHUTTING_DOWN_MESSAGE, Code.SHUTTING_DOWN)
            answer = await self._dispatch(request)
        except Unauthorized:
            answer = unauthorized_response()
        except Refusal as refusal:
            answer = refusal.response()
        if isinstance(answer, Response):
            await answer(scope, receive, send)
        else:
            await answer(send, receive)

    async def _dispatch(self, request: Request) -> Response | StreamRun:
        headers, query = request.headers, request.query_params
        header_token = headers.get(TOKEN_HEADER)
        query_token = query.get(TOKEN_QUERY)
        if header_token:
            reservation = self.reservations.get(header_token)
        else:
            reservation = self.reservations.get(query_token)
        key_scope = self.view.keys.scope_of(headers.get("x-api-key"), query_token)
        method = request.method
        if method in ("GET", "POST") and wants_event_stream(headers.get("accept")):
            stream_request = method == "GET" and "query" not in query
            if reservation is not None or header_token or stream_request:
                return self._open(reservation, key_scope)
            return await self._distinct(request, _authenticated(key_scope))
        scope = _authenticated(key_scope)
        if method == "PUT":
            return self._reserve(request, scope)
        if reservation is None:
            raise Refusal(404, "Stream not found: reserve one with PUT", Code.NOT_FOUND)
        self._check_owner(reservation, scope)
        if method == "DELETE":
            operation_id = query.get(OPERATION_ID)
            if not operation_id:
                raise Refusal(400, "Operation ID is missing: DELETE ?operationId=<id>")
            reservation.stop(operation_id)
            return Response(status_code=200)
        if method == "POST":
            return await self._submit(request, reservation, scope)
        raise Refusal(405, "Operations are submitted with POST", Code.BAD_USER_INPUT)

    def _open(self, reservation: Reservation | None, key_scope: str | None) -> StreamRun:
        if reservation is None:
            _authenticated(key_scope)
            raise Refusal(404, "Stream not found: reserve one with PUT", Code.NOT_FOUND)
        if key_scope is not None:
            self._check_owner(reservation, key_scope)
        if reservation.opened:
            raise Refusal(409, "Stream already open")
        reservation.opened = True  # now, before any await: a second request gets 409

        async def run(send: Send, receive: Receive) -> None:
            with self._held(reservation, "single"):
                await self.reservations.serve(
                    reservation, send, receive, keep_alive=self.keep_alive
                )

        return run

    async def _distinct(self, request: Request, scope: str) -> StreamRun:
        params = await _params(request)
        stream = EventStream(max_operations=1)
        stream.start(None, self._results(request, params, scope), last=True)

        async def run(send: Send, receive: Receive) -> None:
            with self._held(stream, "distinct"):
                await stream.pump(send, receive, keep_alive=self.keep_alive)

        return run

    def _reserve(self, request: Request, scope: str) -> Response:
        if not accepts_any(request.headers.get("accept"), PUT_ACCEPTS):
            raise Refusal(406, "A reservation's token is text/plain")
        reservation = self.reservations.reserve(scope)
        if reservation is None:
            raise Refusal(
                503, "Too many stream reservations; retry later", Code.SERVICE_UNAVAILABLE
            )
        return PlainTextResponse(reservation.token, status_code=201)

    async def _submit(self, request: Request, reservation: Reservation, scope: str) -> Response:
        if not accepts_any(request.headers.get("accept"), POST_ACCEPTS):
            raise Refusal(406, "Results travel through the stream; accept application/json")
        params = await _params(request)
        operation_id = params.operation_id
        if operation_id is None:
            raise Refusal(400, "Operation ID is missing: send it as `extensions.operationId`")
        if operation_id in reservation.operations:
            raise Refusal(409, "Operation with ID already exists")
        if reservation.full:
            payloads = _one(limit_error(reservation.max_operations))
        else:
            payloads = self._results(request, params, scope)
        try:
            reservation.start(operation_id, payloads, last=False)
        except StreamClosed:  # its stream ended while the body was read
            raise Refusal(404, "Stream not found: reserve one with PUT", Code.NOT_FOUND) from None
        return Response(status_code=202)

    @contextlib.contextmanager
    def _held(self, stream: EventStream, mode: str) -> Iterator[None]:
        """An open stream: counted in `matchgraph_sse_streams`, ended by the drain."""

        async def shut_down() -> None:
            for _ in range(len(stream.operations)):
                metrics.graphql_error(Code.SHUTTING_DOWN)
            await stream.shut_down(SHUTTING_DOWN_PAYLOAD)

        gauge = metrics.SSE_STREAMS.labels(mode)
        gauge.inc()
        try:
            with self.view.drain.track(shut_down):
                yield
        finally:
            gauge.dec()

    def _check_owner(self, reservation: Reservation, scope: str) -> None:
        if scope != reservation.auth_scope:
            raise Refusal(
                403, "This stream was reserved with another API key", Code.UNAUTHENTICATED
            )

    def _results(
        self, request: Request, params: RequestParams, scope: str
    ) -> AsyncIterator[dict[str, Any]]:
        async def new_context() -> Context:
            view = self.view
            return await build_context(
                view.settings,
                view.sources,
                new_loaders=Loaders,
                services=view.services,
                per_operation=True,
                auth_scope=scope,
                request=request,
                client_address=view.rate_limits.budget_address(request, view.services.rate_limiter),
            )

        return results(self.view.schema, params, new_context)


def _authenticated(key_scope: str | None) -> str:
    if key_scope is None:
        raise Unauthorized
    return key_scope


async def _params(request: Request) -> RequestParams:
    if request.method == "GET":
        return params_from_query(request.query_params)
    return params_from_body(await request.body(), request.headers.get("content-type"))


async def _one(payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield payload
