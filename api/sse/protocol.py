"""The graphql-sse wire format: events, headers, request parameters, refusals.

Distinct connections mode: a `next` event's data is the execution result and
`complete` has empty data. Single connection mode: both carry the operation's
id (`{"id": ..., "payload": result}`, `{"id": ...}`). A line starting with `:`
is a comment: the keep-alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.responses import Response
from strawberry.types import ExecutionResult

from api import metrics
from graph.errors import Code, error_body

EVENT_STREAM = "text/event-stream"
TOKEN_HEADER = "x-graphql-event-stream-token"
TOKEN_QUERY = "token"
OPERATION_ID = "operationId"
KEEP_ALIVE = b":\n\n"
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # proxies (nginx) must not buffer the stream
]


def next_event(payload: dict[str, Any], operation_id: str | None) -> bytes:
    data = payload if operation_id is None else {"id": operation_id, "payload": payload}
    return b"event: next\ndata: " + orjson.dumps(data) + b"\n\n"


def complete_event(operation_id: str | None) -> bytes:
    if operation_id is None:
        return b"event: complete\ndata:\n\n"
    return b"event: complete\ndata: " + orjson.dumps({"id": operation_id}) + b"\n\n"


def result_payload(result: ExecutionResult, *, request_error: bool = False) -> dict[str, Any]:
    """An execution result as sent; a request error (parse, validation) has no `data`."""
    payload: dict[str, Any] = {} if request_error else {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload


def media_types(accept: str | None) -> set[str]:
    """The media types of an Accept header, parameters dropped; `*/*` when absent."""
    if not accept:
        return {"*/*"}
    return {part.split(";", 1)[0].strip().lower() for part in accept.split(",") if part.strip()}


def wants_event_stream(accept: str | None) -> bool:
    return EVENT_STREAM in media_types(accept)


def accepts_any(accept: str | None, allowed: frozenset[str]) -> bool:
    return bool(media_types(accept) & allowed)


@dataclass(frozen=True)
class RequestParams:
    """One GraphQL request: GraphQL over HTTP's parameters."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None

    @property
    def operation_id(self) -> str | None:
        value = (self.extensions or {}).get(OPERATION_ID)
        return str(value) if value not in (None, "") else None


class Refusal(Exception):
    """A request answered with an HTTP error status and a GraphQL-shaped JSON body."""

    def __init__(self, status: int, message: str, code: Code = Code.BAD_USER_INPUT) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    def response(self, headers: dict[str, str] | None = None) -> Response:
        metrics.graphql_error(self.code)
        body = orjson.dumps(error_body(self.message, self.code))
        return Response(body, self.status, headers=headers, media_type="application/json")


def params_from_query(query: QueryParams) -> RequestParams:
    try:
        variables = _decoded(query.get("variables"))
        extensions = _decoded(query.get("extensions"))
    except orjson.JSONDecodeError:
        raise Refusal(400, "`variables` and `extensions` must be JSON objects") from None
    return _checked(
        {
            "query": query.get("query"),
            "operationName": query.get("operationName"),
            "variables": variables,
            "extensions": extensions,
        }
    )


def params_from_body(body: bytes, content_type: str | None) -> RequestParams:
    if "application/json" not in (content_type or "").lower():
        raise Refusal(415, "send the GraphQL request as application/json")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refusal(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refusal(400, "the body must be a JSON object (one GraphQL request)")
    return _checked(data)


def _decoded(text: str | None) -> Any:
    return None if text in (None, "") else orjson.loads(text)


def _checked(data: dict[str, Any]) -> RequestParams:
    query, name = data.get("query"), data.get("operationName")
    variables, extensions = data.get("variables"), data.get("extensions")
    if query is None:
        raise Refusal(400, "missing `query`")
    if not isinstance(query, str):
        raise Refusal(400, "`query` must be a string")
    if not isinstance(name, str | None):
        raise Refusal(400, "`operationName` must be a string or null")
    if not isinstance(variables, dict | None):
        raise Refusal(400, "`variables` must be an object or null")
    if not isinstance(extensions, dict | None):
        raise Refusal(400, "`extensions` must be an object or null")
    return RequestParams(query, variables, name, extensions)
