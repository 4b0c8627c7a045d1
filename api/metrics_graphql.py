"""GraphQL metrics from one schema extension: hooks per operation, never per field.

A `resolve` hook would cost 8-20 % of a large page; these hooks run a few
times per operation whatever its size. They see every transport: HTTP
operations (`Schema.execute`) and WebSocket ones (`Schema.subscribe`, one
`on_stream_result` per frame). Response cache hits never execute and are
counted by the view, as are errors made outside execution (timeouts, HTTP
errors).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api import metrics
from graph.context import Context
from graph.cost.analysis import cost_report
from graph.extensions import classify


def error_code(error: GraphQLError) -> str:
    """The code ErrorCodes gives (or gave) the error."""
    code = (error.extensions or {}).get("code")
    return str(code) if code else classify(error).value


class OperationMetrics(SchemaExtension):
    """Counts the operation (type, bounded name, outcome), its errors by code, its loader
    batches, how its root fields ran (planned or not), running subscriptions, and its
    estimated cost (and whether it was over the limit).

    Listed after OperationScopes and before ErrorCodes: its `on_operation` ends after
    errors are coded and before the operation's loaders are dropped.
    """

    def __init__(self) -> None:
        self._failed = False
        self._streamed = False
        self._subscription = False
        self._priced = False

    def on_execute(self) -> Iterator[None]:
        if not self._subscription and self._type() == OperationType.SUBSCRIPTION.value:
            self._subscription = True
            metrics.SUBSCRIPTIONS_ACTIVE.inc()
        self._count_cost()  # priced just before (graph/cost): now, not when a stream ends
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        self._count_errors(getattr(result, "errors", None))
        yield

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            # A client stopping its subscription is how subscriptions end; a cancelled query
            # or mutation timed out or lost its client; anything else is a failing hook.
            stopped = isinstance(exc, (GeneratorExit, asyncio.CancelledError))
            self._failed = self._failed or not (stopped and self._subscription)
            raise
        finally:
            self._finish()

    def _finish(self) -> None:
        context = self.execution_context.context
        if not self._streamed:  # streams counted their errors frame by frame
            self._count_errors(getattr(self.execution_context.result, "errors", None))
        if isinstance(context, Context):
            try:
                loaders = context.loaders
            except RuntimeError:  # no scope was pinned: nothing ran
                loaders = None
            if loaders is not None:
                for loader, count in loaders.batches.items():
                    metrics.LOADER_BATCHES.labels(loader).inc(count)
                for outcome in loaders.plans.values():
                    metrics.PLANNER_ROOT_FIELDS.labels(outcome).inc()
        self._count_cost()  # refused before this extension's on_execute began
        name = metrics.OPERATION_NAMES.label(self.execution_context.operation_name)
        outcome = "error" if self._failed else "ok"
        metrics.GRAPHQL_OPERATIONS.labels(self._type(), name, outcome).inc()
        if self._subscription:
            metrics.SUBSCRIPTIONS_ACTIVE.dec()

    def _count_cost(self) -> None:
        report = cost_report(self.execution_context)
        if self._priced or report is None or report.dry_run:
            return
        self._priced = True
        metrics.operation_cost(
            self._type(), report.estimated, over=report.over, refused=report.refused
        )

    def _count_errors(self, errors: list[GraphQLError] | None) -> None:
        for error in errors or ():
            self._failed = True
            metrics.graphql_error(error_code(error))

    def _type(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:  # unparsable, or no operation of the requested name
            return "unknown"
