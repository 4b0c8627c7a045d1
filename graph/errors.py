"""GraphQL error codes: every error a client sees carries `extensions.code`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from graphql import GraphQLError


class Code(StrEnum):
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    TIMEOUT = "TIMEOUT"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL = "INTERNAL"
    # A subscription sent over HTTP: subscriptions run over WebSocket at /graphql.
    WEBSOCKET_REQUIRED = "WEBSOCKET_REQUIRED"
    # The operation's estimated cost is over MATCHGRAPH_MAX_COST: refused before execution.
    COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
    # Persisted documents: a hash the server does not know (send the document with it),
    # and a document sent where only persisted documents may run (MATCHGRAPH_PERSISTED_ONLY).
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"
    # The key's (or address's) cost budget per minute is spent: retry after Retry-After.
    RATE_LIMITED = "RATE_LIMITED"
    # The process is draining (SIGTERM): reconnect, another replica will serve.
    SHUTTING_DOWN = "SHUTTING_DOWN"


class GraphError(GraphQLError):
    """An expected failure, shown to clients as is (message + code)."""

    def __init__(self, message: str, code: Code, **extra: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **extra})


def bad_input(message: str, **extra: Any) -> GraphError:
    return GraphError(message, Code.BAD_USER_INPUT, **extra)


def unavailable(message: str) -> GraphError:
    """A backing service (task queue, live-score database) cannot answer now."""
    return GraphError(message, Code.SERVICE_UNAVAILABLE)


def error_body(message: str, code: Code) -> dict[str, Any]:
    """A GraphQL-shaped error response for failures outside execution (HTTP layer)."""
    return {"errors": [{"message": message, "extensions": {"code": code.value}}]}
