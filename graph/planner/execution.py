"""The planner inside graphql-core's execution: root fields of queries, one at a time.

`PlannedExecutionContext` is the schema's execution context. Everything
around execution is unchanged, because this *is* graphql-core's execution:
parsing, validation and its limits, variable coercion, extensions (error
codes and masking, metrics, scopes), the response cache, the time limit. Only
the root fields of a query take another path: each is compiled
(graph/planner/plan.py) and, when it compiles, executed as a plan
(graph/planner/run.py); otherwise, or when the run finds something it cannot
answer exactly as graphql-core would (an argument error, a value graphql-core
would refuse or convert, an orphan match), graphql-core executes that root
field as usual. `context.loaders.plans` records which way each went.

A plan run holds the event loop for at most a slice (SLICE_SECONDS) at a
time: at chunk boundaries it looks at the clock and the operation's stop, and
finishes in a coroutine that takes its further slices in turn with other long
runs (graph/lane.py), like long lists in graph/execution.py.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from time import perf_counter
from typing import Any

from graphql import GraphQLError, GraphQLObjectType
from graphql.pyutils import Path, gather_with_cancel

from graph.adapters.graphql_core import FieldGroup
from graph.context import Context
from graph.execution import OperationStopped, SlicedExecutionContext
from graph.lane import lane
from graph.planner.cache import cached_plans, plan_key, store_plans
from graph.planner.plan import FieldPlan, ObjectPlan, compile_field
from graph.planner.rows import NotPlanned
from graph.planner.run import PlanRun, Steps

log = logging.getLogger("matchgraph.planner")
# The longest a plan run holds the loop at once; a small request waits behind at most
# about one such slice (graph/lane.py) and the first slices of runs starting.
SLICE_SECONDS = 0.005
# A run's first slice, taken outside the lane: long enough for a single match or a
# small page to end within it, short enough that long runs starting cost little.
FIRST_SLICE_SECONDS = 0.002
PLANNED = "planned"


class PlannedExecutionContext(SlicedExecutionContext):
    """graphql-core's execution with the root fields of queries planned where they can be."""

    def execute_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: dict[str, FieldGroup],
        serially: bool,
        position_context: Any,
    ) -> Any:
        ctx = self.context_value
        if (
            serially
            or root_type is not self.schema.query_type
            or not isinstance(ctx, Context)
            or not ctx.settings.planner
        ):
            return self.execute_root_fields_default(
                root_type, root_value, grouped_field_set, serially, position_context
            )
        plans = self._root_plans(ctx, root_type, grouped_field_set)
        # graphql-core's execute_fields, with each root field planned where it can be
        results: dict[str, Any] = {}
        awaitable_keys: list[str] = []
        try:
            for key, group in grouped_field_set.items():
                path = Path(None, key, root_type.name)
                value = self._root_field(ctx, plans.get(key), root_type, root_value, group, path)
                results[key] = value
                if self.is_awaitable(value):
                    awaitable_keys.append(key)
        except Exception:
            if awaitable_keys:
                self.settle_pending([results[k] for k in awaitable_keys])
            raise
        if not awaitable_keys:
            return results
        return self._gather_root(results, awaitable_keys)

    async def _gather_root(self, results: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        values = await gather_with_cancel(*(results[k] for k in keys))
        results.update(zip(keys, values, strict=True))
        return results

    def _root_plans(
        self, ctx: Context, root_type: GraphQLObjectType, grouped_field_set: dict[str, FieldGroup]
    ) -> dict[str, FieldPlan | str | None]:
        """Per root response key: its plan, why it has none, or None (not ours to count)."""
        key = plan_key(self.operation, self.variable_values)
        plans = cached_plans(self.schema, key) if key is not None else None
        if plans is None:
            plans = {k: self._compile_root(root_type, k, g) for k, g in grouped_field_set.items()}
            if key is not None:
                store_plans(self.schema, key, plans, ctx.settings.document_cache_size)
        return plans

    def _compile_root(
        self, root_type: GraphQLObjectType, key: str, group: FieldGroup
    ) -> FieldPlan | str | None:
        if group[0].node.name.value.startswith("__"):  # __typename, introspection
            return None
        try:
            field = compile_field(self, root_type, key, group)
        except NotPlanned as exc:
            return exc.reason
        return field if field.kind is not None else "unplanned-field"

    def _root_field(
        self,
        ctx: Context,
        plan: FieldPlan | str | None,
        root_type: GraphQLObjectType,
        root_value: Any,
        group: FieldGroup,
        path: Path,
    ) -> Any:
        def fallback(reason: str) -> Any:
            ctx.loaders.plans[str(path.key)] = reason
            return self.execute_field(root_type, root_value, group, path, None)

        if plan is None:
            return self.execute_field(root_type, root_value, group, path, None)
        if isinstance(plan, str):
            return fallback(plan)
        field = plan
        run = PlanRun(self, ctx)
        steps = run.root(ObjectPlan(root_type, [field]), field)
        return _Driver(self, run, steps, field, fallback, path)()


class _Driver:
    """Runs one root field's plan in slices of the event loop."""

    def __init__(
        self,
        execution: PlannedExecutionContext,
        run: PlanRun,
        steps: Steps,
        field: FieldPlan,
        fallback: Any,
        path: Path,
    ) -> None:
        self.execution = execution
        self.run = run
        self.steps = steps
        self.field = field
        self.fallback = fallback
        self.path = path

    def __call__(self) -> Any:
        # The first slice runs now, outside the lane: most runs (a single match, a
        # small page) end within it and must not queue behind long ones.
        execution = self.execution
        execution.slice_end = min(execution.slice_end, perf_counter() + FIRST_SLICE_SECONDS)
        try:
            if self._advance():
                return self._finished()
        except Exception as exc:
            return self._failed(exc)
        return self._continue()

    def _advance(self) -> bool:
        """Run until the plan is done (True) or the loop's slice is used up (False)."""
        execution = self.execution
        try:
            while True:
                next(self.steps)
                if execution.stop.reason is not None:
                    raise OperationStopped(execution.stop.reason)
                if perf_counter() >= execution.slice_end:
                    return False
        except StopIteration as done:
            self.value = done.value
            return True

    async def _continue(self) -> Any:
        turns = lane()
        try:
            while True:
                # the loop's turn (other requests, timers, disconnects), then ours in the lane
                await turns.turn()
                try:
                    self.execution.slice_end = perf_counter() + SLICE_SECONDS
                    done = self._advance()
                finally:
                    turns.release()
                if done:
                    break
        except Exception as exc:
            result = self._failed(exc)
        else:
            result = self._finished()
        return await result if self.execution.is_awaitable(result) else result

    def _finished(self) -> Any:
        self.run.ctx.loaders.plans[self.field.key] = PLANNED
        value, pending = self.value
        if not pending:
            return value
        return self._await_delegated(value, pending)

    async def _await_delegated(
        self, value: Any, pending: list[tuple[dict[str, Any], str, Awaitable[Any]]]
    ) -> Any:
        results = await gather_with_cancel(*(awaitable for _, _, awaitable in pending))
        for (obj, key, _), result in zip(pending, results, strict=True):
            obj[key] = result
        return value

    def _failed(self, exc: Exception) -> Any:
        self.steps.close()
        if isinstance(exc, OperationStopped):
            # as graphql-core: the root field's error, raised on if the field is non-null
            assert self.field.field_def is not None
            self.execution.field_error(exc, self.field.field_def.type, self.field.group, self.path)
            return None
        if self.run.planned:  # a delegated field raised: as graphql-core would, raise on
            raise exc
        if isinstance(exc, NotPlanned):
            return self.fallback(exc.reason)
        if isinstance(exc, GraphQLError):  # an argument error: graphql-core reports it
            return self.fallback("error")
        log.warning("planner failed on %s; graphql-core answers", self.field.key, exc_info=exc)
        return self.fallback("bug")
