"""One HTTP operation under its time limit, stopped when its client hangs up.

The operation runs in the request's own task: a task of its own, raced
against the limit and the disconnect, cost three turns of the event loop per
request, and under load each turn waits behind other requests' work (measured:
50-100 ms added to a tiny query behind 5000-card pages). Instead, timers and a
watcher act on the running operation. When the time limit
(`MATCHGRAPH_OPERATION_TIMEOUT`) passes or the client's `http.disconnect`
arrives, the operation's `OperationStop` is set: long lists notice it within a
few milliseconds (graph.execution and graph.planner give the loop turns even to
CPU-bound work) and the operation unwinds on its own; an operation stuck on an
`await` instead is cancelled after `STOP_GRACE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.types import Receive
from strawberry.types import ExecutionResult

from api import metrics
from graph.errors import Code, GraphError
from graph.execution import OperationStop

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 1.0
TIMEOUT, DISCONNECTED = "time limit reached", "client disconnected"


async def _watch_disconnect(receive: Receive, on_gone: Callable[[], None]) -> None:
    """Calls `on_gone` when the client hangs up (the request body has been read by then)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    on_gone()


class _Guard:
    """Stops the current task's operation at the limit or when its client leaves."""

    def __init__(self, stop: OperationStop) -> None:
        self.stop = stop
        self.task = asyncio.current_task()
        self.loop = asyncio.get_running_loop()
        self.forced = False
        self._force: asyncio.TimerHandle | None = None

    def stop_now(self, reason: str) -> None:
        if self.stop.reason is not None:
            return
        self.stop.set(reason)
        self._force = self.loop.call_later(STOP_GRACE_SECONDS, self._cancel)

    def _cancel(self) -> None:
        if self.task is not None:
            self.forced = True
            self.task.cancel()

    def close(self) -> None:
        if self._force is not None:
            self._force.cancel()


async def run_guarded(
    operation: Coroutine[Any, Any, ExecutionResult],
    *,
    stop: OperationStop,
    receive: Receive,
    limit: float,
) -> ExecutionResult:
    """The operation's result, a TIMEOUT error past `limit`, or an error nobody will read."""
    guard = _Guard(stop)
    timer = guard.loop.call_later(limit, guard.stop_now, TIMEOUT)
    watch = asyncio.ensure_future(_watch_disconnect(receive, lambda: guard.stop_now(DISCONNECTED)))
    result: ExecutionResult | None = None
    try:
        result = await operation
    except asyncio.CancelledError:
        if not guard.forced or guard.task is None:
            raise  # cancelled from outside (the server shutting down): not ours
        guard.task.uncancel()  # ours, after the grace: answer with the stop's error
    finally:
        timer.cancel()
        guard.close()
        watch.cancel()  # not awaited: its cancellation finishes on its own
    if stop.reason is None and result is not None:
        return result
    gone = stop.reason == DISCONNECTED
    metrics.OPERATIONS_STOPPED.labels("disconnect" if gone else "timeout").inc()
    if gone:
        log.info("operation stopped: its client disconnected")
        return ExecutionResult(data=None, errors=[GraphError(DISCONNECTED, Code.TIMEOUT)])
    metrics.graphql_error(Code.TIMEOUT)
    error = GraphError(f"operation exceeded the {limit:g} s limit", Code.TIMEOUT)
    return ExecutionResult(data=None, errors=[error])
