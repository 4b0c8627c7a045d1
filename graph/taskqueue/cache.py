"""Process-wide caches of what jobs produce."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from graph.taskqueue.results import ModelInfoResult


class ModelInfoCache:
    """Model info per stage for `ttl` seconds (one `model_info` job per stage and period)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, ModelInfoResult]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(
        self, stage: str, fetch: Callable[[], Awaitable[ModelInfoResult]]
    ) -> ModelInfoResult:
        lock = self._locks.setdefault(stage, asyncio.Lock())
        async with lock:
            entry = self._entries.get(stage)
            if entry is not None and time.monotonic() < entry[0]:
                return entry[1]
            value = await fetch()
            self._entries[stage] = (time.monotonic() + self.ttl, value)
            return value
