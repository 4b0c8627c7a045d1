"""graph/loaders.py in-process: batching, priming and counting, over plain lookups.

Every test is async: a DataLoader built outside a running loop makes one of its own.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Sequence

import pytest

from graph.loaders import BatchLoader, PageKeys, SnapshotLoader


class Recorder:
    """A lookup that doubles its keys and remembers every batch it was asked."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, keys: Sequence[int]) -> list[int]:
        self.calls.append(list(keys))
        return [2 * k for k in keys]

    async def later(self, keys: Sequence[int]) -> list[int]:
        await asyncio.sleep(0)
        return self(keys)


def snapshot_loader() -> tuple[SnapshotLoader[int, int], Recorder, Counter[str]]:
    lookup, batches = Recorder(), Counter[str]()
    return SnapshotLoader("double", lookup, batches), lookup, batches


async def test_prime_many_is_one_batch_of_distinct_new_keys() -> None:
    loader, lookup, batches = snapshot_loader()
    loader.prime_many([3, 1, 3, 2, 1])
    loader.prime_many([1, 2])  # all known: no batch
    loader.prime_many([2, 4])  # one new key: one batch of it alone
    assert lookup.calls == [[3, 1, 2], [4]]
    assert batches == {"double": 2}
    assert [loader.get(k) for k in (1, 2, 3, 4)] == [2, 4, 6, 8]  # read synchronously


async def test_an_empty_page_costs_no_batch() -> None:
    loader, lookup, batches = snapshot_loader()
    loader.prime_many([])
    assert lookup.calls == [] and batches == {}


async def test_unprimed_keys_join_one_batch_and_are_then_known() -> None:
    loader, lookup, batches = snapshot_loader()
    loader.prime_many([1])
    pending = [loader.get(k) for k in (5, 6, 5)]
    assert all(inspect.isawaitable(p) for p in pending)
    assert await asyncio.gather(*pending) == [10, 12, 10]  # type: ignore[arg-type]
    assert lookup.calls == [[1], [5, 6]]
    assert batches == {"double": 2}
    assert loader.get(6) == 12  # primed by the batch: no awaitable any more
    loader.prime_many([5, 6])
    assert batches == {"double": 2}


async def test_page_keys_prime_each_loader_once() -> None:
    first, first_lookup, batches = snapshot_loader()
    second = SnapshotLoader("other", Recorder(), batches)
    page = PageKeys([1, 2, 3])
    for _ in range(3):  # every match of the page asks; the first one primes
        page.prime(first)
        page.prime(second)
    assert first_lookup.calls == [[1, 2, 3]]
    assert batches == {"double": 1, "other": 1}
    assert page.primed == {"double", "other"}


async def test_batch_loader_primes_several_pages_in_one_batch() -> None:
    lookup, batches = Recorder(), Counter[str]()
    loader: BatchLoader[int, int] = BatchLoader("live", lookup.later, batches)
    PageKeys([1, 2, 3]).prime(loader)
    PageKeys([3, 4]).prime(loader)  # another page of the same operation, same tick
    values = await asyncio.gather(*(loader.get(k) for k in (4, 1, 3)))
    assert values == [8, 2, 6]
    assert lookup.calls == [[1, 2, 3, 4]]
    assert batches == {"live": 1}


async def test_a_failed_batch_reaches_whoever_awaits_and_nothing_else() -> None:
    batches = Counter[str]()

    async def broken(keys: Sequence[int]) -> list[int]:
        raise RuntimeError("database down")

    loader: BatchLoader[int, int] = BatchLoader("live", broken, batches)
    loader.prime_many([1, 2, 3])  # nobody awaits 2 or 3: no "never retrieved" warning
    with pytest.raises(RuntimeError, match="database down"):
        await loader.get(1)
    assert batches == {"live": 1}
