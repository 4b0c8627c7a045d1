"""The hook: each operation is charged its estimated cost after it is priced, before it runs.

Listed right after the cost analysis (graph/schema.py): its `on_execute` reads
the estimate (`cost_report`) and charges it to the key's budget (or the client
address's when the service is open) before any executor starts. Over budget:
nothing executes, and the one error is RATE_LIMITED with `retryAfter` (whole
seconds) in its extensions; a query or mutation gets it as its result, a
subscription (WebSocket, SSE) as its one error result (raised, as the cost
analysis does), while the connection stays open.

What an operation is charged: its estimate, at least 1 (an operation of cost 0
still parses, validates and answers). A dry run (`X-Matchgraph-Cost-Only`), an
operation the cost analysis refused, and one it could not price (variables that
do not coerce) are charged 1: they are priced, not executed.

HTTP reads the verdict from `Context.rate_limit` (429, `Retry-After`, the
RateLimit headers: api/rate_limit.py). Without a limiter in the services (no
budget configured, or a schema run outside the API) the hook does nothing.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

from graphql import ExecutionResult as CoreExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from graph.context import Context
from graph.cost.analysis import cost_report
from graph.errors import Code, GraphError
from graph.ratelimit.limiter import Verdict, partition_for


def retry_after_seconds(verdict: Verdict) -> int:
    """`Retry-After` in whole seconds, at least 1 (a client told 0 would retry at once)."""
    return max(1, math.ceil(verdict.retry_after))


def rate_limited(verdict: Verdict) -> GraphError:
    seconds = retry_after_seconds(verdict)
    return GraphError(
        f"Rate limit: this operation's cost is over what is left of the budget of "
        f"{verdict.limit} cost units per minute; retry after {seconds} s.",
        Code.RATE_LIMITED,
        retryAfter=seconds,
    )


class RateLimiting(SchemaExtension):
    """Charges the operation before it executes (see the module doc)."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        limiter = context.services.rate_limiter if isinstance(context, Context) else None
        if limiter is None or not isinstance(context, Context):
            yield
            return
        partition = partition_for(
            auth_enabled=context.settings.auth_enabled,
            auth_scope=context.auth_scope,
            address=context.client_address,
        )
        verdict = await limiter.charge(partition, self._cost())
        context.rate_limit = verdict
        if not verdict.allowed:
            error = rate_limited(verdict)
            if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
                raise error
            self.execution_context.result = CoreExecutionResult(data=None, errors=[error])
        yield

    def _cost(self) -> int:
        report = cost_report(self.execution_context)
        if report is None or report.dry_run or report.refused:
            return 1
        return max(1, report.estimated)
