"""The hook: every operation is priced after validation and before any executor runs.

Why here and not in a validation rule: the cost depends on the variables
(`matches(first: $n)`, `@skip(if: $x)`), and graphql-core validates without
them (ValidationCache even reuses one validation for every set of variables).
Strawberry's `on_execute` runs after parsing and validation and before
graphql-core's `execute`/`subscribe` (and so before the planner, which runs
inside graphql-core's executor): the variables are coerced here as the
executor will coerce them, and the operation is priced.

- Over MATCHGRAPH_MAX_COST with MATCHGRAPH_COST_MODE=enforce: nothing executes;
  the result is one COST_LIMIT_EXCEEDED error, `extensions.cost = {estimated,
  limit}`, before execution (no path, `data: null`): a request error, like a
  validation error. A query or mutation gets it as its result (Strawberry
  skips execution when `on_execute` sets one); a subscription, for which
  Strawberry has no such skip, by raising it (Strawberry answers an exception
  of `on_execute` with one error result). This extension is the first with
  an `on_execute` hook, so no other hook has begun when it raises.
- `measure`: executes, and the report says it was over (metrics count it).
- A dry run (`Context.cost_only`, the view's `X-Matchgraph-Cost-Only: 1`):
  nothing executes; the result is empty and carries the estimate.
- Variables that do not coerce: not priced; graphql-core reports them and
  executes nothing.

Every priced result carries `extensions.cost = {estimated, limit}` (HTTP and
WebSocket); `cost_report(execution_context)` gives the API's metrics the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult as CoreExecutionResult
from graphql import GraphQLError, GraphQLSchema, get_operation_ast, get_variable_values
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from graph import tracing
from graph.adapters.strawberry import graphql_core_schema
from graph.cost.estimate import CostModel, operation_fragments
from graph.errors import Code, GraphError

log = logging.getLogger("matchgraph.cost")
_REPORT = "_matchgraph_cost"  # where the report rides on Strawberry's ExecutionContext
COST_SPAN = "matchgraph.cost"  # the estimate's span, when tracing is on (graph/tracing.py)


@dataclass(frozen=True)
class CostReport:
    """One operation's estimate and what was done with it."""

    estimated: int
    limit: int
    over: bool  # estimated > limit
    refused: bool  # over, in enforce mode: nothing executed
    dry_run: bool  # asked for the estimate only: nothing executed

    def extensions(self) -> dict[str, int]:
        return {"estimated": self.estimated, "limit": self.limit}

    def span_attributes(self) -> dict[str, int | bool]:
        return {
            "matchgraph.cost.estimated": self.estimated,
            "matchgraph.cost.limit": self.limit,
            "matchgraph.cost.refused": self.refused,
        }


def cost_report(execution_context: ExecutionContext) -> CostReport | None:
    """The operation's report, once it has been priced."""
    report = getattr(execution_context, _REPORT, None)
    return report if isinstance(report, CostReport) else None


def cost_limit_exceeded(report: CostReport) -> GraphError:
    return GraphError(
        f"The operation's estimated cost is {report.estimated}, over the limit of "
        f"{report.limit}: ask for fewer items (`first`, `limit`) or fewer nested lists. "
        "Send the header `X-Matchgraph-Cost-Only: 1` to get an estimate without executing.",
        Code.COST_LIMIT_EXCEEDED,
        cost=report.extensions(),
    )


class CostPolicy:
    """The limit, the mode, and the cost model of the schema (read on first use)."""

    def __init__(self, *, max_cost: int, enforce: bool) -> None:
        self.max_cost = max_cost
        self.enforce = enforce
        self._model: tuple[GraphQLSchema, CostModel] | None = None

    def model(self, schema: GraphQLSchema) -> CostModel:
        if self._model is None or self._model[0] is not schema:
            self._model = (schema, CostModel(schema))
        return self._model[1]


class CostAnalysis(SchemaExtension):
    """Prices the operation in `on_execute`, before it executes (see the module doc)."""

    def __init__(self, policy: CostPolicy) -> None:
        self.policy = policy

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        dry_run = bool(getattr(context.context, "cost_only", False))
        with tracing.span(COST_SPAN) as span:
            priced = self._price(dry_run)
            if span is not None and isinstance(priced, CostReport):
                span.set_attributes(priced.span_attributes())
        if isinstance(priced, CostReport):
            setattr(context, _REPORT, priced)
            if priced.refused or priced.dry_run:
                self._skip_execution(cost_limit_exceeded(priced) if priced.refused else None)
        elif dry_run:  # unpriced: variables that do not coerce (their errors), or a bug
            self._skip_execution(*priced)
        yield

    def get_results(self) -> dict[str, Any]:
        report = cost_report(self.execution_context)
        return {"cost": report.extensions()} if report is not None else {}

    def _price(self, dry_run: bool) -> CostReport | list[GraphQLError]:
        """The report, or why there is none: the variables' coercion errors (graphql-core
        reports them the same way and executes nothing), or nothing (no operation; a bug)."""
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document else None
        if document is None or operation is None:
            return []
        schema = graphql_core_schema(context.schema)
        variables = get_variable_values(
            schema, operation.variable_definitions or (), context.variables or {}, 50
        )
        if isinstance(variables, list):
            return variables
        try:
            estimated = self.policy.model(schema).estimate(
                operation, operation_fragments(document.definitions), variables
            )
        except Exception:  # a bug here must not take the operation down with it
            log.exception("cost analysis failed; the operation runs unpriced")
            return []
        limit = self.policy.max_cost
        over = estimated > limit
        refused = over and self.policy.enforce and not dry_run
        return CostReport(estimated, limit, over=over, refused=refused, dry_run=dry_run)

    def _skip_execution(self, error: GraphQLError | None = None, *more: GraphQLError) -> None:
        """Answer without executing: with these errors, or (a dry run) with nothing."""
        context = self.execution_context
        if context.operation_type is OperationType.SUBSCRIPTION:
            if error is not None:
                raise error
            return  # subscriptions are not dry-run (HTTP refuses them first)
        errors = [error, *more] if error is not None else None
        context.result = CoreExecutionResult(data=None, errors=errors)


def cost_analysis(*, max_cost: int, enforce: bool) -> Callable[[], SchemaExtension]:
    """An extension factory (one extension per operation, one policy per schema)."""
    policy = CostPolicy(max_cost=max_cost, enforce=enforce)
    return lambda: CostAnalysis(policy)
