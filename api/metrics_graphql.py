"""GraphQL metrics from one schema extension: hooks per operation, never per field.

A `resolve` hook would cost 8-20 % of a large page; these hooks run a few
times per operation whatever its size. They see every transport: HTTP
operations (`Schema.execute`) and WebSocket and SSE ones (`Schema.subscribe`,
one `on_stream_result` per frame). Response cache hits never execute and are
counted by the view, as are errors made outside execution (timeouts, HTTP
errors).

Operation names come from clients: each becomes a label value through the
application's `OperationNames` (bounded; beyond the bound, `other`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
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
    """Counts the operation (type, bounded name, outcome), its errors by code and by
    operation, its loader batches, how its root fields ran (planned or not), running
    subscriptions, its estimated cost (and whether it was over the limit), and times it.

    The time runs from the operation's start (before parsing) to its result; for a
    subscription, whose life is the client's choice, to the end of its set-up (parse,
    validate, cost, source stream), so the histogram compares like with like.

    Listed after OperationScopes and before ErrorCodes: its `on_operation` ends after
    errors are coded and before the operation's loaders are dropped.
    """

    def __init__(self, names: metrics.OperationNames) -> None:
        self._names = names
        self._name: str | None = None
        self._started = 0.0
        self._timed = False
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
        if self._subscription:
            self._time()  # set up: from here on its time is the client's

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        self._count_errors(getattr(result, "errors", None))
        yield

    def on_operation(self) -> Iterator[None]:
        self._started = time.perf_counter()
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
        self._time()  # a query or mutation; a subscription refused before it started
        outcome = "error" if self._failed else "ok"
        metrics.GRAPHQL_OPERATIONS.labels(self._type(), self._label(), outcome).inc()
        if self._subscription:
            metrics.SUBSCRIPTIONS_ACTIVE.dec()

    def _time(self) -> None:
        if not self._timed:
            self._timed = True
            elapsed = time.perf_counter() - self._started
            metrics.OPERATION_DURATION.labels(self._type(), self._label()).observe(elapsed)

    def _count_cost(self) -> None:
        report = cost_report(self.execution_context)
        if self._priced or report is None or report.dry_run:
            return
        self._priced = True
        metrics.operation_cost(
            self._type(), self._label(), report.estimated, over=report.over, refused=report.refused
        )

    def _count_errors(self, errors: list[GraphQLError] | None) -> None:
        for error in errors or ():
            self._failed = True
            metrics.operation_error(self._type(), self._label(), error_code(error))

    def _label(self) -> str:
        """The operation's name as a label value, decided once (after parsing, which
        names an operation the request did not name)."""
        if self._name is None:
            self._name = self._names.label(self.execution_context.operation_name)
        return self._name

    def _type(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:  # unparsable, or no operation of the requested name
            return "unknown"


def operation_metrics(names: metrics.OperationNames) -> Callable[[], OperationMetrics]:
    """The extension factory (one extension per operation, one name bound per application)."""
    return lambda: OperationMetrics(names)
