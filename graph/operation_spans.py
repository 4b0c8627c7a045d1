"""The spans of one GraphQL operation: the operation, parse, validate, execute.

Two extensions, because of where each must sit in the schema's list
(graph/schema.py), which is also the order Strawberry enters their hooks:

- `OperationSpans` comes first. Parsing and validation happen inside the hooks
  of the caches (`CodedParserCache`, `ValidationCache`, before they yield), so a
  span that wraps them must be entered before theirs. A hook that raises while
  Strawberry enters the hooks of a step (a parse error does) leaves the hooks
  entered before it unexited: the operation's span, whose hook is always
  exited, ends any step span left open, with an error status.
- `ExecuteSpan` comes after the cost analysis and the rate limit, whose
  `on_execute` hooks may raise (a refused subscription) and must therefore
  come first (graph/cost/analysis.py). The cost span is thus a sibling of the
  execute span, and loader batches are children of the execute span.

The operation's span is current for the whole operation (so the cost and
loader spans find it); its parent is the caller's W3C `traceparent` when the
HTTP request (or the WebSocket upgrade) carries one. A subscription's
operation span lasts as long as the subscription; its execute span covers
setting it up.

Neither is in the schema unless MATCHGRAPH_OTEL_ENABLED is on; with no tracer
installed (a schema built before the API's lifespan began, or after it ended)
every hook is a bare `yield`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from graph import tracing
from graph.cost.analysis import cost_report
from graph.extensions import classify

if TYPE_CHECKING:
    from opentelemetry.context import Context as TraceContext
    from opentelemetry.trace import Span, Tracer

OPERATION = "GraphQL Operation"  # the semantic conventions' name when the type is unknown
PARSE, VALIDATE, EXECUTE = "graphql.parse", "graphql.validate", "graphql.execute"


class OperationSpans(SchemaExtension):
    """The operation's span (current throughout), and the parse and validate spans."""

    def __init__(self) -> None:
        self._span: Span | None = None
        self._step: Span | None = None  # the parse or validate span while it runs
        self._codes: set[str] = set()

    def on_operation(self) -> Iterator[None]:
        tracer = tracing.active()
        if tracer is None:
            yield
            return
        from opentelemetry import context, trace

        parent = _incoming(self.execution_context.context)
        span = self._span = tracer.start_span(OPERATION, context=parent, kind=trace.SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            yield
        except (GeneratorExit, asyncio.CancelledError):
            if not self._is_subscription():  # how a subscription ends; a query was stopped
                self._codes.add("CANCELLED")
            raise
        except GraphQLError as error:  # a parse error escapes the operation (coded)
            self._collect([error])
            raise
        except Exception as exc:  # Strawberry answers it as an error: a failing hook
            span.record_exception(exc)
            self._codes.add("INTERNAL")
            raise
        finally:
            self._end_step(failed=True)
            self._finish(span)
            context.detach(token)

    def on_parse(self) -> Iterator[None]:
        yield from self._around(PARSE)

    def on_validate(self) -> Iterator[None]:
        yield from self._around(VALIDATE)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._collect(getattr(result, "errors", None))
        yield

    def _around(self, name: str) -> Iterator[None]:
        tracer = tracing.active()
        if tracer is None or self._span is None:
            yield
            return
        self._step = step = tracer.start_span(name)  # the operation's span is current
        yield
        # Not in a `finally`: when a later hook of this step raised, this generator is
        # never resumed, and the operation's span ends the step instead.
        if self._step is step:
            self._end_step(failed=False)

    def _end_step(self, *, failed: bool) -> None:
        step, self._step = self._step, None
        if step is None:
            return
        if failed:
            from opentelemetry.trace import StatusCode

            step.set_status(StatusCode.ERROR, "did not complete")
        step.end()

    def _finish(self, span: Span) -> None:
        from opentelemetry.trace import StatusCode

        context = self.execution_context
        self._collect(getattr(context.result, "errors", None))
        attributes: dict[str, Any] = {}
        kind = self._type()
        name = context.operation_name if kind else None
        if kind:
            attributes["graphql.operation.type"] = kind
            span.update_name(f"{kind} {name}" if name else kind)
        if name:
            attributes["graphql.operation.name"] = name
        report = cost_report(context)
        if report is not None:
            attributes["matchgraph.cost.estimated"] = report.estimated
            attributes["matchgraph.cost.refused"] = report.refused
        if self._codes:
            attributes["matchgraph.graphql.error_codes"] = sorted(self._codes)
            span.set_status(StatusCode.ERROR, ", ".join(sorted(self._codes)))
        span.set_attributes(attributes)
        span.end()

    def _collect(self, errors: list[GraphQLError] | None) -> None:
        for error in errors or ():
            code = (error.extensions or {}).get("code")
            self._codes.add(str(code) if code else classify(error).value)

    def _type(self) -> str | None:
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:  # unparsable, or no operation of the requested name
            return None

    def _is_subscription(self) -> bool:
        return self._type() == "subscription"


class ExecuteSpan(SchemaExtension):
    """The execute span: current while the executors run, so loader batches nest in it."""

    def on_execute(self) -> Iterator[None]:
        tracer: Tracer | None = tracing.active()
        # A result set by now (refused by cost or rate limit, a dry run): nothing executes.
        if tracer is None or self.execution_context.result is not None:
            yield
            return
        with tracer.start_as_current_span(EXECUTE):
            yield


def _incoming(context: Any) -> TraceContext | None:
    """The current context, continued from the request's `traceparent` (and `tracestate`,
    `baggage`) headers when it has them (OTEL_PROPAGATORS); None without a request."""
    headers = getattr(getattr(context, "request", None), "headers", None)
    if headers is None:
        return None
    from opentelemetry import context as trace_context
    from opentelemetry import propagate

    return propagate.extract(headers, context=trace_context.get_current())
