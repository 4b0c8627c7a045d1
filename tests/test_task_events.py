"""Following a task: what the events tell is not read back from Redis (a real Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

import graph.taskqueue.client
from api.task_queue import TaskQueue, open_task_queue
from graph.settings import Settings
from graph.taskqueue import events
from graph.taskqueue.arq_internals import result_key, serialize_result
from graph.taskqueue.names import RedisNames
from graph.taskqueue.serializer import dumps
from graph.taskqueue.state import TaskState, TaskStatus, read_state
from tests.fixtures.worker import OwnRedis

KWARGS = {"match_id": 7, "stage": "champion"}


@pytest.fixture
async def queue(own_redis: OwnRedis, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TaskQueue]:
    # No safety re-read while a test publishes: every read below is one the events caused.
    monkeypatch.setattr(graph.taskqueue.client, "SAFETY_RECHECK_SECONDS", 60.0)
    async with open_task_queue(Settings(redis_url=own_redis.url)) as opened:
        await asyncio.wait_for(opened.hub.connected.wait(), 10)
        yield opened


@pytest.fixture
async def control(own_redis: OwnRedis) -> AsyncIterator[Redis]:
    client = Redis.from_url(own_redis.url)
    yield client
    await client.aclose()


def count_reads(queue: TaskQueue, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = queue.client.state

    async def state(job_id: str) -> TaskState:
        reads.append(job_id)
        return await real(job_id)

    monkeypatch.setattr(queue.client, "state", state)
    return reads


async def finish(control: Redis, names: RedisNames, task: TaskState, started_ms: int) -> None:
    """What arq's worker writes when the job succeeds, then our worker's end event."""
    assert task.enqueued_at is not None
    record = serialize_result(
        task.kind, (), task.kwargs, 1, int(task.enqueued_at.timestamp() * 1000), True,
        {"ok": True}, started_ms, started_ms + 5, task.kind, names.short_queue, task.id,
        serializer=dumps,
    )  # fmt: skip
    assert record is not None
    await control.set(result_key(task.id), record)
    await events.publish(control, names.task_events_channel, task.id, events.ENDED)


async def test_a_submitted_task_is_read_back_only_when_it_ends(
    queue: TaskQueue, control: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(queue, monkeypatch)
    states = queue.client.submit("predict_match", within=30, **KWARGS)

    submitted = await anext(states)
    assert (submitted.status, submitted.kind, submitted.kwargs) == (
        TaskStatus.QUEUED, "predict_match", KWARGS
    )  # fmt: skip
    names = queue.client.names
    assert await read_state(queue.client.redis, submitted.id, names) == submitted  # as stored

    started_ms = int(time.time() * 1000)
    message = events.event_message(submitted.id, events.STARTED, started_ms=started_ms)
    await control.publish(names.task_events_channel, message)
    started = await asyncio.wait_for(anext(states), 10)
    assert started.status is TaskStatus.IN_PROGRESS
    assert started.started_at == datetime.fromtimestamp(started_ms / 1000, tz=UTC)
    assert reads == []  # the event told it all

    await finish(control, names, submitted, started_ms)
    done = await asyncio.wait_for(anext(states), 10)
    assert (done.status, done.result) == (TaskStatus.COMPLETE, {"ok": True})
    assert reads == [submitted.id]
    with pytest.raises(StopAsyncIteration):
        await anext(states)


async def test_an_end_that_overtakes_the_start_is_read_back(
    queue: TaskQueue, control: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(queue, monkeypatch)
    submitted = await queue.client.enqueue("predict_match", **KWARGS)
    follow = queue.client.follow(submitted.id, within=30)
    assert (await anext(follow)).status is TaskStatus.QUEUED
    assert reads == [submitted.id]  # an existing task is read first

    started_ms = int(time.time() * 1000)
    message = events.event_message(submitted.id, events.STARTED, started_ms=started_ms)
    await control.publish(queue.client.names.task_events_channel, message)
    await finish(control, queue.client.names, submitted, started_ms)  # both before it looks again
    statuses = [state.status async for state in follow]
    assert statuses[-1] is TaskStatus.COMPLETE
    assert statuses in ([TaskStatus.COMPLETE], [TaskStatus.IN_PROGRESS, TaskStatus.COMPLETE])


async def test_a_lost_connection_makes_followers_read_again(
    queue: TaskQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the hub reconnects, what happened meanwhile is unknown: every follower reads."""
    reads = count_reads(queue, monkeypatch)
    states = queue.client.submit("predict_match", within=30, **KWARGS)
    submitted = await anext(states)
    waiting = asyncio.ensure_future(anext(states))
    await asyncio.sleep(0.05)
    queue.hub._wake_everyone()  # what the hub does when its subscription comes back
    await asyncio.sleep(0.2)
    assert reads == [submitted.id] and not waiting.done()  # read; still QUEUED: no frame
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await states.aclose()
