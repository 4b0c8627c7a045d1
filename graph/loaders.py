"""Per-request DataLoaders over the pinned snapshot set.

Each loader answers a whole batch of keys with one vectorised lookup. List
resolvers prime a loader with the keys of a page in one batch (`prime_many`),
and field resolvers then read primed values synchronously (`get`), which
avoids an awaitable per field; keys nobody primed go through aiodataloader's
usual batching (`load`). Either way a page of any size costs one batch per
field kind, which `batches` counts (and, with tracing on, one span per batch).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from aiodataloader import DataLoader

from graph import tracing

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Lookup = Callable[[Sequence[K]], list[V]]
AsyncLookup = Callable[[Sequence[K]], Coroutine[Any, Any, list[V]]]


class Primable(Protocol):
    """A loader a page can prime: SnapshotLoader, BatchLoader."""

    name: str

    def prime_many(self, keys: Sequence[Any]) -> None: ...


class SnapshotLoader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader whose batch function is a synchronous vectorised lookup."""

    def __init__(self, name: str, lookup: Lookup[K, V], batches: Counter[str]) -> None:
        super().__init__(batch_load_fn=self._batch_load, cache=True)
        self.name = name
        self._lookup = lookup
        self._batches = batches
        self._primed: dict[K, V] = {}

    def prime_many(self, keys: Sequence[K]) -> None:
        """Look up every key not yet known in one batch."""
        missing = [k for k in dict.fromkeys(keys) if k not in self._primed]
        if missing:
            self._primed.update(zip(missing, self._lookup_counted(missing), strict=True))

    def get(self, key: K) -> V | Awaitable[V]:
        """The primed value, or an awaitable that joins the next batch."""
        try:
            return self._primed[key]
        except KeyError:
            return self.load(key)

    async def _batch_load(self, keys: list[K]) -> list[V]:
        values = self._lookup_counted(keys)
        self._primed.update(zip(keys, values, strict=True))
        return values

    def _lookup_counted(self, keys: Sequence[K]) -> list[V]:
        self._batches[self.name] += 1
        with tracing.loader_batch(self.name, len(keys)):
            return self._lookup(keys)


class PageKeys:
    """The keys of one list result, primed into each loader on first use.

    Objects of one page share this, so the first field resolver that needs a
    loader primes it for the whole page in one batch.
    """

    __slots__ = ("keys", "primed")

    def __init__(self, keys: Sequence[Hashable]) -> None:
        self.keys = keys
        self.primed: set[str] = set()

    def prime(self, loader: Primable) -> None:
        if loader.name not in self.primed:
            self.primed.add(loader.name)
            loader.prime_many(self.keys)


class BatchLoader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader over an async source (the database): one query per batch.

    `prime_many` queues a whole page at once, so the page costs one batch even
    when its field resolvers run spread over several ticks; `get` then returns
    the queued future of one key.
    """

    def __init__(self, name: str, lookup: AsyncLookup[K, V], batches: Counter[str]) -> None:
        super().__init__(batch_load_fn=self._batch_load, cache=True)
        self.name = name
        self._lookup = lookup
        self._batches = batches

    def prime_many(self, keys: Sequence[K]) -> None:
        for key in dict.fromkeys(keys):
            # A page's futures may fail together; whoever awaits one sees the error.
            self.load(key).add_done_callback(_retrieve)

    def get(self, key: K) -> Awaitable[V]:
        return self.load(key)

    async def _batch_load(self, keys: list[K]) -> list[V]:
        self._batches[self.name] += 1
        with tracing.loader_batch(self.name, len(keys)):
            return await self._lookup(keys)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
