"""Live operations: predictions on demand, tasks, model info, queue and workers."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from graph.context import Context, Info
from graph.errors import Code, GraphError, bad_input
from graph.sources.errors import InvalidKey
from graph.sources.storage import split_source
from graph.tasks import (
    ModelInfo,
    ModelStage,
    QueueStats,
    Task,
    Worker,
    model_info_from,
    task_from_state,
    worker_from,
)
from jobs.client import TaskClient
from jobs.errors import QueueUnavailable
from jobs.tasks import TaskState, TaskStatus


def tasks_of(info: Info) -> TaskClient:
    """The task client; SERVICE_UNAVAILABLE when the service runs without a queue."""
    info.context.uncacheable()
    client = info.context.tasks
    if client is None:
        raise unavailable("the task queue is not configured")
    return client


def unavailable(reason: str) -> GraphError:
    return GraphError(f"live operations are unavailable: {reason}", Code.SERVICE_UNAVAILABLE)


async def guarded(call: Callable[[], Any]) -> Any:
    """Run a queue call; a Redis failure becomes SERVICE_UNAVAILABLE at once."""
    try:
        return await call()
    except QueueUnavailable as exc:
        raise unavailable("Redis cannot be reached") from exc


class ModelInfoCache:
    """Model info per stage for `ttl` seconds (one `model_info` job per stage and period)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, ModelInfo]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, stage: str, fetch: Callable[[], Any]) -> ModelInfo:
        lock = self._locks.setdefault(stage, asyncio.Lock())
        async with lock:
            entry = self._entries.get(stage)
            if entry is not None and time.monotonic() < entry[0]:
                return entry[1]
            value: ModelInfo = await fetch()
            self._entries[stage] = (time.monotonic() + self.ttl, value)
            return value


def check_match(context: Context, match_id: int) -> None:
    """The match must be in the catalogue and have features (else NOT_FOUND / BAD_USER_INPUT)."""
    catalog = context.data.catalog
    position = int(catalog.positions([match_id])[0])
    if position < 0:
        known = match_id in context.data.predictions
        if not known:
            raise GraphError(f"match {match_id} does not exist", Code.NOT_FOUND)
        raise bad_input(f"match {match_id} has no features in match_features.parquet")
    if catalog.feature_names and all(math.isnan(v) for v in catalog.features[position]):
        raise bad_input(f"match {match_id} has no feature values yet (no team history)")


def check_features(context: Context, features: dict[str, float]) -> None:
    known = set(context.data.catalog.feature_names)
    unknown = sorted(set(features) - known)
    if unknown:
        raise bad_input(f"unknown feature name(s): {', '.join(unknown)}", validNames=sorted(known))
    if not all(math.isfinite(v) for v in features.values()):
        raise bad_input("feature values must be finite numbers")


def check_source(source: str) -> None:
    """`<bucket>/<key>` inside the storage; anything that escapes it is BAD_USER_INPUT."""
    try:
        split_source(source)
    except InvalidKey as exc:
        raise bad_input(f"source {source!r} refused: {exc}") from exc


async def submit(info: Info, kind: str, *, wait: bool, **kwargs: Any) -> Task:
    """Enqueue a job; with `wait`, return it finished or as it stands after the sync timeout."""
    client = tasks_of(info)
    if not wait:
        state: TaskState = await guarded(lambda: client.enqueue(kind, **kwargs))
    else:
        timeout = info.context.settings.sync_timeout
        state = await guarded(lambda: client.submit_and_wait(kind, within=timeout, **kwargs))
    return task_from_state(state)


async def follow(info: Info, job_id: str) -> AsyncGenerator[Task, None]:
    """The task's current state, then each change; ends at a terminal state or the deadline."""
    client = tasks_of(info)
    within = info.context.settings.subscription_timeout
    async for task in _tasks(client.follow(job_id, within=within)):
        yield task


async def submit_and_follow(info: Info, kind: str, **kwargs: Any) -> AsyncGenerator[Task, None]:
    """Enqueue a job, then its state as enqueued and each change (as `follow`)."""
    client = tasks_of(info)
    within = info.context.settings.subscription_timeout
    async for task in _tasks(client.submit(kind, within=within, **kwargs)):
        yield task


async def _tasks(states: AsyncIterator[TaskState]) -> AsyncGenerator[Task, None]:
    try:
        async for state in states:
            yield task_from_state(state)
    except QueueUnavailable as exc:
        raise unavailable("Redis cannot be reached") from exc


async def read_task(info: Info, job_id: str) -> Task:
    client = tasks_of(info)
    state: TaskState = await guarded(lambda: client.state(job_id))
    return task_from_state(state)


async def model(info: Info, stage: ModelStage) -> ModelInfo:
    client = tasks_of(info)
    cache = info.context.model_info

    async def fetch() -> ModelInfo:
        timeout = info.context.settings.sync_timeout
        state = await client.submit_and_wait("model_info", within=timeout, stage=stage.value)
        if state.status is TaskStatus.COMPLETE:
            return model_info_from(state.result)
        if state.status is TaskStatus.FAILED:
            raise GraphError(state.error or "model info failed", Code.NOT_FOUND)
        raise GraphError("no worker answered in time", Code.TIMEOUT)

    if cache is None:
        result: ModelInfo = await guarded(fetch)
        return result
    cached: ModelInfo = await guarded(lambda: cache.get(stage.value, fetch))
    return cached


async def queue_stats(info: Info) -> QueueStats:
    client = tasks_of(info)
    counts: dict[str, int] = await guarded(client.queue_stats)
    return QueueStats(**counts)


async def workers(info: Info) -> list[Worker]:
    client = tasks_of(info)
    found = await guarded(client.workers)
    return [worker_from(w) for w in found]
