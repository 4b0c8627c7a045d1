"""Execution that stays interruptible: long lists give the event loop turns and can be stopped.

graphql-core completes a list of plain values synchronously: a query such as
`matches(first: 5000) { ... region { matches(first: 200) { ... } } }` is a
million field executions in one stretch that holds the event loop for the
whole of it. Neither `asyncio.timeout` (it can only cancel at an `await`) nor
a client hanging up (uvicorn notices it on the loop) can stop it, and every
other client of the process waits behind it.

`SlicedExecutionContext` completes long lists itself, item by item as
graphql-core does, and every `CHECK_EVERY` items looks at the clock: once the
current slice (`SLICE_SECONDS`) is used up it finishes the list in a
coroutine that first yields to the loop and then takes its further slices in
turn with other long runs (graph/lane.py), so other requests, timers and
disconnects get their turn at least every few tens of milliseconds. It also
looks at the operation's `OperationStop`: once the view sets it (time limit
reached, client gone), every list stops at its next check with
`OperationStopped`, which graphql-core turns into a field error, so the rest
of the operation unwinds in a few milliseconds and settles its pending
awaitables the usual way. The view then answers with one error (or nothing,
to a client that left). Lists of at most `CHECK_EVERY` items, and @stream,
take graphql-core's own path unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from time import perf_counter
from typing import Any

from graphql import GraphQLOutputType, GraphQLResolveInfo
from graphql.pyutils import Path, gather_with_cancel

from graph.adapters.graphql_core import ListCompletionContext
from graph.lane import lane

SLICE_SECONDS = 0.02  # the longest stretch a list completion holds the loop
CHECK_EVERY = 64  # list items between two looks at the clock and the stop flag


class OperationStop:
    """Set from outside (the view) to stop an operation at its next check."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


class OperationStopped(Exception):
    """Raised inside execution once the operation's stop is set."""


class SlicedExecutionContext(ListCompletionContext):
    """graphql-core's execution with long lists completed in slices (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stop = getattr(self.context_value, "stop", None)
        self.stop: OperationStop = stop if isinstance(stop, OperationStop) else OperationStop()
        self.slice_end = perf_counter() + SLICE_SECONDS

    def complete_list(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        if (
            not isinstance(items, list | tuple)
            or len(items) <= CHECK_EVERY
            or self.uses_stream(field_details_list, path)
        ):
            return self.complete_list_default(
                item_type, field_details_list, info, path, items, position_context
            )
        return _SlicedList(
            self, item_type, field_details_list, info, path, items, position_context
        )()


class _SlicedList:
    """One long list being completed: synchronously until its slice is used up."""

    def __init__(
        self,
        execution: SlicedExecutionContext,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: list[Any] | tuple[Any, ...],
        position_context: Any,
    ) -> None:
        self.execution = execution
        self.args = (item_type, field_details_list, info)
        self.path = path
        self.items = items
        self.position_context = position_context
        self.completed: list[Any] = []
        self.awaitable_indices: list[int] = []

    def __call__(self) -> Any:
        paused = self._complete_from(0)
        if paused is None and not self.awaitable_indices:
            return self.completed
        return self._finish(paused)

    def _complete_from(self, start: int) -> int | None:
        """Complete items from `start`; the index to resume at when the slice ran out."""
        execution = self.execution
        is_awaitable = execution.is_awaitable
        complete_item = execution.complete_item
        completed, awaitable_indices = self.completed, self.awaitable_indices
        item_type, field_details_list, info = self.args
        try:
            for index in range(start, len(self.items)):
                if index % CHECK_EVERY == 0 and index != start:
                    if execution.stop.reason is not None:
                        raise OperationStopped(execution.stop.reason)
                    if perf_counter() >= execution.slice_end:
                        return index
                item = self.items[index]
                item_path = self.path.add_key(index, None)
                if is_awaitable(item):
                    completed.append(
                        execution.complete_awaitable_item(
                            item, item_type, field_details_list, info, item_path,
                            self.position_context,
                        )
                    )  # fmt: skip
                    awaitable_indices.append(index)
                elif complete_item(
                    item, completed, item_type, field_details_list, info, item_path,
                    self.position_context,
                ):  # fmt: skip
                    awaitable_indices.append(index)
        except Exception:
            # as graphql-core does: pending awaitables are settled, never orphaned
            pending: list[Awaitable[Any]] = [completed[i] for i in awaitable_indices]
            pending += [i for i in self.items[len(completed) :] if is_awaitable(i)]
            if pending:
                execution.settle_pending(pending)
            raise
        return None

    async def _finish(self, paused: int | None) -> list[Any]:
        turns = lane()
        while paused is not None:
            # the loop's turn (other requests, timers, disconnects), then ours in the lane
            await turns.turn()
            try:
                self.execution.slice_end = perf_counter() + SLICE_SECONDS
                paused = self._complete_from(paused)
            finally:
                turns.release()
        completed, indices = self.completed, self.awaitable_indices
        if len(indices) == 1:
            completed[indices[0]] = await completed[indices[0]]
        elif indices:
            results = await gather_with_cancel(*(completed[i] for i in indices))
            for i, result in zip(indices, results, strict=True):
                completed[i] = result
        return completed
