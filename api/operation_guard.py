"""One HTTP operation under its time limit, stopped when its client hangs up.

The operation runs in a task of its own, raced against the time limit
(`MATCHGRAPH_OPERATION_TIMEOUT`) and against the client's `http.disconnect`.
When either comes first, the operation's `OperationStop` is set: long lists
notice it within a few milliseconds (graph.execution gives the loop turns
even to CPU-bound work) and the operation unwinds on its own; an operation
stuck on an `await` instead is cancelled after `STOP_GRACE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from starlette.types import Receive
from strawberry.types import ExecutionResult

from api import metrics
from graph.errors import Code, GraphError
from graph.execution import OperationStop

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 1.0
TIMEOUT, DISCONNECTED = "time limit reached", "client disconnected"


async def _disconnected(receive: Receive) -> None:
    """Returns when the client hangs up (the request body has been read by then)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stop(run: asyncio.Future[ExecutionResult], stop: OperationStop, reason: str) -> None:
    stop.set(reason)
    done, _ = await asyncio.wait({run}, timeout=STOP_GRACE_SECONDS)
    if not done:
        run.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await run  # its result (a partial answer or an error) is nobody's any more


async def run_guarded(
    operation: Coroutine[Any, Any, ExecutionResult],
    *,
    stop: OperationStop,
    receive: Receive,
    limit: float,
) -> ExecutionResult:
    """The operation's result, a TIMEOUT error past `limit`, or an error nobody will read."""
    run = asyncio.ensure_future(operation)
    watch = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({run, watch}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        run.cancel()
        raise
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watch
    if run.done():
        return run.result()
    gone = watch.done() and not watch.cancelled() and watch.exception() is None
    reason = DISCONNECTED if gone else TIMEOUT
    await _stop(run, stop, reason)
    metrics.OPERATIONS_STOPPED.labels("disconnect" if gone else "timeout").inc()
    if gone:
        log.info("operation stopped: its client disconnected")
        return ExecutionResult(data=None, errors=[GraphError(reason, Code.TIMEOUT)])
    metrics.graphql_error(Code.TIMEOUT)
    error = GraphError(f"operation exceeded the {limit:g} s limit", Code.TIMEOUT)
    return ExecutionResult(data=None, errors=[error])
