"""Results shared by requests: computed once per key, kept in a bounded LRU per process.

Keys start with the data version (`SnapshotSet.version`), so a refresh makes
new keys and the old entries age out. `get` computes on the calling thread;
`get_async` computes in a thread and lets concurrent requests for the same key
await the one computation already running.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SharedResults:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._done: OrderedDict[Hashable, Any] = OrderedDict()
        self._running: dict[Hashable, asyncio.Future[Any]] = {}
        self._lock = threading.Lock()
        self.computed = 0  # computations run (tests and the bench read it)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        found, value = self._lookup(key)
        if found:
            return value  # type: ignore[no-any-return]
        value = compute()
        self._store(key, value)
        return value

    async def get_async(self, key: Hashable, compute: Callable[[], T]) -> T:
        found, value = self._lookup(key)
        if found:
            return value  # type: ignore[no-any-return]
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self._compute(key, compute))
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        result: T = await asyncio.shield(running)
        return result

    async def _compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        value = await asyncio.to_thread(compute)
        self._store(key, value)
        return value

    def peek(self, key: Hashable) -> Any:
        """The stored value, or None (computes nothing)."""
        return self._lookup(key)[1]

    def _lookup(self, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return True, self._done[key]
        return False, None

    def _store(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self.computed += 1
            self._done[key] = value
            self._done.move_to_end(key)
            while len(self._done) > self.maxsize:
                self._done.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._done.clear()


# Per process: the joined arrays of the last data versions, and results per argument set.
TABLES = SharedResults(maxsize=2)
RESULTS = SharedResults(maxsize=64)
