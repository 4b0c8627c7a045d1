"""One GraphQL operation over an event stream: its results, as payloads to send.

Any operation type runs (a query or mutation gives one result), through the
schema's own pipeline, so the depth, alias, token and cost limits, error codes
and metrics are those of every transport. Each operation gets a context of its
own, built per operation as a WebSocket connection's is: it pins its own
snapshot set when it starts (graph.extensions.OperationScopes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

from graphql import GraphQLError
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from api import metrics
from api.sse.protocol import RequestParams, result_payload
from api.transport_ws import subscription_limit_error
from graph.adapters.strawberry import PreExecutionError
from graph.context import Context
from graph.errors import Code

ContextFactory = Callable[[], Awaitable[Context]]


async def results(
    schema: BaseSchema, params: RequestParams, new_context: ContextFactory
) -> AsyncIterator[dict[str, Any]]:
    """Each result of the operation as a `next` payload; the caller sends `complete` after."""
    context = await new_context()
    source = await schema.stream(
        params.query,
        variable_values=params.variables,
        context_value=context,
        operation_name=params.operation_name,
    )
    async with aclosing(source):
        try:
            async for result in source:
                if isinstance(result, PreExecutionError):
                    yield result_payload(result, request_error=True)
                elif isinstance(result, ExecutionResult):
                    yield result_payload(result)
                else:  # @defer/@stream patches: this transport has no frame for them
                    error = GraphQLError(
                        "incremental delivery (@defer, @stream) is not supported over SSE",
                        extensions={"code": Code.BAD_USER_INPUT.value},
                    )
                    yield {"errors": [error.formatted]}
                    return
        except GraphQLError as error:  # a syntax error escapes the stream (coded when parsed)
            code = (error.extensions or {}).get("code", Code.GRAPHQL_PARSE_FAILED.value)
            metrics.graphql_error(str(code))
            yield {"errors": [error.formatted]}


def limit_error(limit: int) -> dict[str, Any]:
    """The payload of an operation beyond MATCHGRAPH_MAX_SUBSCRIPTIONS on one stream (the
    WebSocket protocols' error, code and message)."""
    metrics.graphql_error(Code.BAD_USER_INPUT)
    return {"errors": [subscription_limit_error(limit).formatted]}
