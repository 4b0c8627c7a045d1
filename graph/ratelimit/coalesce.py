"""One Lua script called by many requests at once, sent as one pipeline per loop turn.

Why: every charge is one EVALSHA, and redis-py's asyncio client spends more CPU
on a lone command than Redis does: taking a pooled connection runs a health
poll (`can_read_destructive`, an `asyncio.timeout(0)` that always fires), then
packing, a write, a read and parsing. Measured on this machine
(`/tmp/pipe_bench.py` in the issue-10 note): 61 µs of client CPU for a lone
EVALSHA, 21 µs each in a pipeline of 4, 14 µs in one of 16. Under load the
charges of concurrent requests arrive within the same loop turn, so they are
gathered and sent together: one connection, one write, one read.

Each call still gets its own result, or its own exception when the pipeline
fails as a whole (connection refused, timeout): the limiter fails open per call
as before. A server that lost the script (restart, SCRIPT FLUSH) answers
NOSCRIPT: it is loaded again and those calls retried once, in one more
pipeline.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

Call = tuple[str, Sequence[Any], "asyncio.Future[Any]"]


class CoalescedScript:
    """`await script(key, args)`: EVALSHA of `source` on one key, batched per loop turn."""

    def __init__(self, redis: Redis, source: str) -> None:
        self.redis = redis
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # Redis's script id
        self._pending: list[Call] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.round_trips = 0  # pipelines sent (tests check that calls are coalesced)

    async def __call__(self, key: str, args: Sequence[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((key, args, future))
        if len(self._pending) == 1:  # the first of this turn sends them all, a turn later
            task = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _flush(self) -> None:
        calls, self._pending = self._pending, []
        try:
            results = await self._send(calls)
            lost = [call for call, result in zip(calls, results, strict=True) if _noscript(result)]
            if lost:
                await self.redis.script_load(self.source)
                retried = dict(zip(map(id, lost), await self._send(lost), strict=True))
                results = [
                    retried.get(id(call), result)
                    for call, result in zip(calls, results, strict=True)
                ]
        except BaseException as error:  # the pipeline as a whole failed: every call did
            for _, _, future in calls:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, _, future), result in zip(calls, results, strict=True):
            if future.done():  # its request went away meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _send(self, calls: list[Call]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for key, args, _ in calls:
            pipe.evalsha(self.sha, 1, key, *args)
        self.round_trips += 1
        results: list[Any] = await pipe.execute(raise_on_error=False)
        return results


def _noscript(result: Any) -> bool:
    return isinstance(result, NoScriptError)
