"""What the API uses of the task queue: enqueue, read and follow tasks, queue facts."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from graph.taskqueue.arq_internals import JOB_KEY_TTL_MS, in_progress_key, job_key, serialize_job
from graph.taskqueue.errors import QueueUnavailable
from graph.taskqueue.events import TaskEventHub, Waiter
from graph.taskqueue.names import RedisNames
from graph.taskqueue.serializer import dumps, loads
from graph.taskqueue.state import TaskState, TaskStatus, read_state
from graph.taskqueue.workers import WorkerInfo, list_workers

# A lost pub/sub message (e.g. a job that failed before arq's hooks ran) must
# not leave a follower waiting forever: re-read the state this often anyway.
SAFETY_RECHECK_SECONDS = 2.0
VANISHED = "the task vanished from Redis while {} (Redis lost its data?): submit it again"


def arq_redis(url: str, names: RedisNames) -> ArqRedis:
    """An arq client that fails fast when Redis is down (no connect retries)."""
    pool = ConnectionPool.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0)
    return ArqRedis(
        connection_pool=pool,
        job_serializer=dumps,
        job_deserializer=loads,
        default_queue_name=names.short_queue,
    )


def pubsub_redis(url: str) -> Redis:
    redis: Redis = Redis.from_url(url, socket_connect_timeout=1.0, health_check_interval=10)
    return redis


class TaskClient:
    """Enqueue jobs and follow their tasks; every Redis failure is QueueUnavailable."""

    def __init__(
        self,
        redis: ArqRedis,
        hub: TaskEventHub,
        *,
        names: RedisNames,
        on_enqueue: Callable[[str], None] | None = None,
    ) -> None:
        self.redis = redis
        self.hub = hub
        self.names = names  # the namespace's queues, wake channels and keys
        self.on_enqueue = on_enqueue  # told each job kind enqueued (the API's metrics)

    async def enqueue(self, kind: str, **kwargs: Any) -> TaskState:
        """Enqueue `kind` under a fresh job id and wake a worker of its queue.

        Returns the task as enqueued (what reading it back would give). What
        arq's `enqueue_job` writes (the job key and the queue entry), in one
        round trip with the wake-up: arq's WATCH/EXISTS guard against a reused id
        costs two more round trips and cannot fire for a fresh uuid4.
        """
        task = _new_task(kind, kwargs)
        await self._push(task)
        return task

    async def submit(self, kind: str, *, within: float, **kwargs: Any) -> AsyncIterator[TaskState]:
        """Enqueue `kind`, then follow it as `follow` does, from the state it was enqueued in.

        The waiter is registered before the job exists, so no change is missed and
        the first state need not be read back.
        """
        task = _new_task(kind, kwargs)
        async with self.hub.waiter(task.id) as waiter:
            await self._push(task)
            async for state in self._follow(waiter, task, within):
                yield state

    async def _push(self, task: TaskState) -> None:
        queue = self.names.queue_for(task.kind)
        assert task.enqueued_at is not None
        enqueued_ms = int(task.enqueued_at.timestamp() * 1000)
        job = serialize_job(task.kind, (), task.kwargs, None, enqueued_ms, serializer=dumps)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.psetex(job_key(task.id), JOB_KEY_TTL_MS, job)
                pipe.zadd(queue, {task.id: enqueued_ms})
                pipe.publish(self.names.wake_channel(queue), b"1")
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        if self.on_enqueue is not None:
            self.on_enqueue(task.kind)

    async def state(self, job_id: str) -> TaskState:
        try:
            return await read_state(self.redis, job_id, self.names)
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc

    async def follow(self, job_id: str, *, within: float) -> AsyncIterator[TaskState]:
        """The current state, then each change, until a terminal state or `within` s pass."""
        async with self.hub.waiter(job_id) as waiter:
            current = await self.state(job_id)
            async for state in self._follow(waiter, current, within):
                yield state

    async def _follow(
        self, waiter: Waiter, state: TaskState, within: float
    ) -> AsyncIterator[TaskState]:
        deadline = time.monotonic() + within
        yield state
        while not state.terminal:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await _wait(waiter.changed, min(remaining, SAFETY_RECHECK_SECONDS))
            new = state.apply(waiter.take()) or await self._reread(state)
            if new is None:
                continue  # Redis is away: ride it out (its return wakes every waiter)
            if new.status != state.status:
                yield new
            state = new

    async def _reread(self, state: TaskState) -> TaskState | None:
        """A followed task read again; None while Redis cannot be reached.

        A task that was there and is no more (Redis restarted without its data)
        is NOT_FOUND with what was known of it and why.
        """
        try:
            new = await self.state(state.id)
        except QueueUnavailable:
            return None
        if new.status is TaskStatus.NOT_FOUND:
            return replace(state, status=TaskStatus.NOT_FOUND, error=VANISHED.format(state.status))
        return new

    async def submit_and_wait(self, kind: str, *, within: float, **kwargs: Any) -> TaskState:
        """Enqueue `kind`; its terminal state, or the state as it stands after `within` s."""
        return await _last(self.submit(kind, within=within, **kwargs))

    async def queue_stats(self) -> dict[str, int]:
        """Honest counts from arq's keys, over both queues."""
        totals = {"queued": 0, "in_progress": 0, "scheduled": 0}
        for counts in (await self._queue_counts()).values():
            for name, count in counts.items():
                totals[name] += count
        return totals

    async def queue_depths(self) -> dict[str, int]:
        """Ready jobs waiting per queue (due and not yet running): what /metrics reports."""
        return {queue: counts["queued"] for queue, counts in (await self._queue_counts()).items()}

    async def _queue_counts(self) -> dict[str, dict[str, int]]:
        now_ms = int(time.time() * 1000)
        try:
            counts: dict[str, dict[str, int]] = {}
            for queue in self.names.queues.values():
                due = await self.redis.zrangebyscore(queue, "-inf", now_ms)
                scheduled = await self.redis.zcount(queue, f"({now_ms}", "+inf")
                running = await self._count_in_progress(due)
                counts[queue] = {
                    "queued": len(due) - running,
                    "in_progress": running,
                    "scheduled": int(scheduled),
                }
            return counts
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc

    async def workers(self) -> list[WorkerInfo]:
        try:
            return await list_workers(self.redis, self.names, now=datetime.now(UTC))
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc

    async def _count_in_progress(self, job_ids: list[bytes]) -> int:
        if not job_ids:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(in_progress_key(job_id.decode()))
            return sum(await pipe.execute())


def _new_task(kind: str, kwargs: dict[str, Any]) -> TaskState:
    now = datetime.fromtimestamp(int(time.time() * 1000) / 1000, tz=UTC)  # arq keeps ms
    return TaskState(
        id=uuid.uuid4().hex, kind=kind, status=TaskStatus.QUEUED, kwargs=kwargs, enqueued_at=now
    )


async def _last(states: AsyncIterator[TaskState]) -> TaskState:
    last: TaskState | None = None
    async for state in states:
        last = state
    assert last is not None
    return last


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
