"""One lane for long runs: at most one slice of them waits in the loop's queue.

A long run (a plan run of graph/planner, a long list in graph/execution.py)
gives the event loop a turn between slices. With several long runs in flight,
yielding with `sleep(0)` alone puts every one of them back in the loop's
ready queue at once: a small request that arrives then waits behind a slice
of each (measured: tiny-query p99 256 ms behind four 5000-card pages). The
lane hands the turn from one long run to the next instead: a run that wants
its next slice queues for the lane, and the lane wakes exactly one waiter
when a slice ends. The wake-up is scheduled behind whatever is ready by then,
so other requests wait at most about one slice. A run's first slice does not
queue: a small request ends within it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from weakref import WeakKeyDictionary

_lanes: WeakKeyDictionary[asyncio.AbstractEventLoop, Lane] = WeakKeyDictionary()


class Lane:
    """FIFO turns for slices of long runs on one event loop."""

    def __init__(self) -> None:
        self.busy = False  # a slice runs, or the turn is being handed to a waiter
        self._waiters: deque[asyncio.Future[None]] = deque()

    def free(self) -> bool:
        """Nobody holds or waits for the lane."""
        return not self.busy and not self._waiters

    async def turn(self) -> None:
        """Wait until this run may do its next slice; the caller must `release()` after."""
        if self.free():
            self.busy = True
            await asyncio.sleep(0)  # what is ready now (other requests) goes first
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # handed over: busy stays set for us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """End a slice: hand the lane to the next waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.busy = False


def lane() -> Lane:
    """The running loop's lane."""
    loop = asyncio.get_running_loop()
    found = _lanes.get(loop)
    if found is None:
        found = _lanes[loop] = Lane()
    return found
