"""Live operations: predictions on demand, tasks, model info, queue and workers."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from graph.context import Context, Info
from graph.errors import Code, GraphError, bad_input, unavailable
from graph.sources.errors import InvalidKey
from graph.sources.storage import split_source
from graph.sources.tables import CATALOG
from graph.taskqueue.client import TaskClient
from graph.taskqueue.errors import QueueUnavailable
from graph.taskqueue.results import ModelInfoResult
from graph.taskqueue.state import TaskState, TaskStatus
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


def tasks_of(info: Info) -> TaskClient:
    """The task client; SERVICE_UNAVAILABLE when the service runs without a queue."""
    info.context.uncacheable()
    client = info.context.services.tasks
    if client is None:
        raise unavailable(f"{LIVE_UNAVAILABLE}the task queue is not configured")
    return client


LIVE_UNAVAILABLE = "live operations are unavailable: "  # and why


async def guarded(call: Callable[[], Any]) -> Any:
    """Run a queue call; a Redis failure becomes SERVICE_UNAVAILABLE at once."""
    try:
        return await call()
    except QueueUnavailable as exc:
        raise unavailable(f"{LIVE_UNAVAILABLE}Redis cannot be reached") from exc


def check_match(context: Context, match_id: int) -> None:
    """The match must be in the catalogue and have features (else NOT_FOUND / BAD_USER_INPUT)."""
    catalog = context.data.catalog
    position = int(catalog.positions([match_id])[0])
    if position < 0:
        known = match_id in context.data.predictions
        if not known:
            raise GraphError(f"match {match_id} does not exist", Code.NOT_FOUND)
        raise bad_input(f"match {match_id} has no features in {CATALOG.key}")
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
        raise unavailable(f"{LIVE_UNAVAILABLE}Redis cannot be reached") from exc


async def read_task(info: Info, job_id: str) -> Task:
    client = tasks_of(info)
    state: TaskState = await guarded(lambda: client.state(job_id))
    return task_from_state(state)


async def model(info: Info, stage: ModelStage) -> ModelInfo:
    client = tasks_of(info)
    cache = info.context.services.model_info

    async def fetch() -> ModelInfoResult:
        timeout = info.context.settings.sync_timeout
        state = await client.submit_and_wait("model_info", within=timeout, stage=stage.value)
        if state.status is TaskStatus.COMPLETE:
            output = state.output
            if not isinstance(output, ModelInfoResult):
                raise GraphError("the worker's model info could not be read", Code.INTERNAL)
            return output
        if state.status is TaskStatus.FAILED:
            raise GraphError(state.error or "model info failed", Code.NOT_FOUND)
        raise GraphError("no worker answered in time", Code.TIMEOUT)

    if cache is None:
        result: ModelInfoResult = await guarded(fetch)
    else:
        result = await guarded(lambda: cache.get(stage.value, fetch))
    return model_info_from(result)


async def queue_stats(info: Info) -> QueueStats:
    client = tasks_of(info)
    counts: dict[str, int] = await guarded(client.queue_stats)
    return QueueStats(**counts)


async def workers(info: Info) -> list[Worker]:
    client = tasks_of(info)
    found = await guarded(client.workers)
    return [worker_from(w) for w in found]
