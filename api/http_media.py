"""GraphQL over HTTP details the view needs: media types, request errors, subscriptions.

The GraphQL-over-HTTP spec adds `application/graphql-response+json`: a client
that prefers it gets it, and then a request error (a document that does not
parse or validate, variables that do not coerce, an operation over the cost
limit: nothing executed) is a 4xx
response without a `data` entry. `application/json` keeps the old contract
(200 with `data: null`), and stays the default for `*/*` or no Accept.
"""

from __future__ import annotations

import re

from graphql import (
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    parse,
)
from strawberry.types import ExecutionResult

from graph.errors import Code, GraphError

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
GRAPHQL_RESPONSE_CONTENT_TYPE = f"{GRAPHQL_RESPONSE}; charset=utf-8"
_JSON_RANGES = frozenset({JSON, "application/*", "*/*"})
# Errors that are the request's fault and leave nothing executed.
_REQUEST_ERROR_CODES = frozenset(
    {
        Code.GRAPHQL_PARSE_FAILED,
        Code.GRAPHQL_VALIDATION_FAILED,
        Code.BAD_USER_INPUT,
        # refused by cost analysis after validation, before anything executed
        Code.COST_LIMIT_EXCEEDED,
    }
)
WEBSOCKET_PATH = "/graphql"


def response_content_type(accept: str | None) -> str:
    """`application/graphql-response+json` when the Accept header prefers it, else JSON."""
    graphql_q = json_q = 0.0
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE:
            graphql_q = max(graphql_q, quality)
        elif media in _JSON_RANGES:
            json_q = max(json_q, quality)
    return GRAPHQL_RESPONSE_CONTENT_TYPE if graphql_q > 0 and graphql_q >= json_q else JSON


def request_error_status(result: ExecutionResult, content_type: str | None) -> int | None:
    """400 for a request error (nothing executed, the client's fault) answered as
    `application/graphql-response+json`, and for a subscription sent over HTTP whatever
    the media type; None when the response keeps status 200 and its `data` entry."""
    if result.data is not None or not result.errors:
        return None
    codes = {(error.extensions or {}).get("code") for error in result.errors}
    if codes == {Code.WEBSOCKET_REQUIRED}:
        return 400
    if content_type != GRAPHQL_RESPONSE_CONTENT_TYPE:
        return None
    before_execution = all(error.path is None for error in result.errors)
    return 400 if before_execution and codes <= _REQUEST_ERROR_CODES else None


def is_subscription(query: object, operation_name: object, max_tokens: int) -> bool:
    """Whether the request selects a subscription (a cheap check first: most never do)."""
    if not isinstance(query, str) or "subscription" not in query:
        return False
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False  # the normal path reports it
    name = operation_name if isinstance(operation_name, str) else None
    operation = get_operation_ast(document, name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


_OPERATION_KEYWORD = re.compile(r"\b(?:query|mutation|subscription)\b")


def unnamed_among_several(query: object, operation_name: object, max_tokens: int) -> bool:
    """No `operationName` for a document of several operations: a request error by the spec.

    Strawberry would run the first one instead. Only a document with two operation
    keywords can hold two named operations (validation refuses an anonymous one
    beside others), so most requests are never parsed here.
    """
    if operation_name is not None or not isinstance(query, str):
        return False
    if len(_OPERATION_KEYWORD.findall(query)) < 2:
        return False
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False  # the normal path reports it
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return len(operations) > 1


def operation_name_required() -> GraphError:
    return GraphError(
        "The document holds several operations: say which to run with `operationName`.",
        Code.BAD_USER_INPUT,
    )


def websocket_required() -> GraphError:
    return GraphError(
        "Subscriptions run over WebSocket: connect to /graphql with the graphql-transport-ws "
        "(or legacy graphql-ws) protocol. HTTP serves queries and mutations only.",
        Code.WEBSOCKET_REQUIRED,
        websocket=WEBSOCKET_PATH,
        protocols=["graphql-transport-ws", "graphql-ws"],
    )
