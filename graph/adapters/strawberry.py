"""Strawberry's internals, named here only (written against strawberry-graphql 0.341.2).

What the rest of the code relies on that Strawberry does not document:

- `graphql_core_schema`: the graphql-core schema behind a Strawberry schema
  (`Schema._schema`);
- `DEFINITION_KEY`: the graphql-core field extension holding Strawberry's field
  (`GraphQLCoreConverter.DEFINITION_BACKREF`); `is_default_resolver` is public;
- `ErrorRewriting`: `MaskErrors` with its error pass (`_process_errors`) under
  a name of ours, `rewrite_errors`;
- `ExecutionContextBase`: Strawberry's graphql-core execution context class;
- the WebSocket protocol handlers, their message types and the ASGI WebSocket
  adapter that `api/` subclasses;
- `error_event`: a subscription event that arrives as an error result while the
  stream goes on (Strawberry resolves a subscription field to the event itself,
  and graphql-core completes a resolved exception as a field error);
- `on_execute` answering instead of executing (graph/cost/analysis.py): a result an
  extension sets there makes Strawberry skip graphql-core's `execute`, and an exception
  it raises there for a subscription becomes the subscription's one error result (no
  name of ours: a behaviour, checked like the names);
- `GraphQLViewBase`: the ASGI view with its undocumented request steps
  (`execute_single`, `execute_operation`, `parse_http_body`) turned into hooks
  of ours: `guard_operation`, `refuse_operation`, `check_request_data`.

`tests/test_library_adapters.py` checks each of these against the installed
Strawberry; when it fails after an upgrade, fix this module, not its users.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError, GraphQLSchema
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.extensions import MaskErrors
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionErrorMessage,
    ConnectionInitMessage,
    StartMessage,
)
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.execution import PreExecutionError

STRAWBERRY_VERSION = "0.341.2"  # the version this adapter was written against

__all__ = [
    "DEFINITION_KEY",
    "STRAWBERRY_VERSION",
    "ASGIWebSocketAdapter",
    "BaseGraphQLTransportWSHandler",
    "BaseGraphQLWSHandler",
    "ConnectionErrorMessage",
    "ConnectionInitMessage",
    "ErrorRewriting",
    "ExecutionContextBase",
    "GraphQLViewBase",
    "PreExecutionError",
    "StartMessage",
    "SubscribeMessage",
    "WebSocketDisconnected",
    "error_event",
    "graphql_core_schema",
    "is_default_resolver",
]

# The key of a graphql-core field's `extensions` that holds its StrawberryField.
DEFINITION_KEY: str = GraphQLCoreConverter.DEFINITION_BACKREF

ExecutionContextBase = StrawberryGraphQLCoreExecutionContext

ContextT = TypeVar("ContextT")
RootValueT = TypeVar("RootValueT")


def graphql_core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema executes with (the very object)."""
    core: GraphQLSchema = schema._schema
    return core


def error_event(error: GraphQLError) -> Any:
    """Yield this from a subscription's generator to send `error` as one result (a `next`
    with `errors` and null data) without ending the subscription; raising would end it."""
    return error


class ErrorRewriting(MaskErrors):
    """`MaskErrors` whose pass over a result's errors is `rewrite_errors` (ours to override).

    Strawberry runs that pass (`_process_errors`) on every result and stream
    result of an operation, after execution.
    """

    def rewrite_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return super()._process_errors(errors)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return self.rewrite_errors(errors)


class GraphQLViewBase(GraphQL[ContextT, RootValueT]):
    """Strawberry's ASGI view with three undocumented request steps as our hooks."""

    websocket_adapter_class: type[ASGIWebSocketAdapter] = ASGIWebSocketAdapter

    async def guard_operation(
        self, operation: Coroutine[Any, Any, ExecutionResult], *, request: Any, context: ContextT
    ) -> ExecutionResult:
        """Runs one HTTP operation (`operation`, not yet awaited); override to wrap it."""
        return await operation

    def refuse_operation(self, request_data: GraphQLRequestData) -> ExecutionResult | None:
        """An answer for a request that must not execute (None: execute it)."""
        return None

    def check_request_data(self, request_data: GraphQLRequestData) -> None:
        """Raise (an HTTPException) for a parsed request Strawberry would accept but we do not."""

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        return await self.guard_operation(
            super().execute_single(*args, **kwargs),
            request=kwargs["request"],
            context=kwargs["context"],
        )

    async def execute_operation(  # type: ignore[override]
        self, request: Any, request_adapter: Any, request_data: Any, **kwargs: Any
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if isinstance(request_data, GraphQLRequestData):
            refusal = self.refuse_operation(request_data)
            if refusal is not None:
                return refusal
        return await super().execute_operation(
            request=request,
            request_adapter=request_adapter,
            request_data=request_data,
            **kwargs,
        )

    async def parse_http_body(self, request_adapter: Any) -> Any:
        request_data = await super().parse_http_body(request_adapter)
        if isinstance(request_data, GraphQLRequestData):
            self.check_request_data(request_data)
        return request_data
