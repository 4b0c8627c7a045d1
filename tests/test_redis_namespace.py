"""MATCHGRAPH_REDIS_NAMESPACE: two stacks on one Redis do not hear each other.

Pub/sub channels are global to a Redis server, not per database: before the
namespace, a stack on database 1 woke the workers of a stack on database 2 and
received its task events. Every queue, channel and key we name carries the
namespace; by default it follows the database of MATCHGRAPH_REDIS_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from api.task_queue import TaskQueue, open_task_queue
from graph.settings import Settings
from graph.taskqueue import events
from graph.taskqueue.names import RedisNames
from graph.taskqueue.workers import health_key, health_payload, list_workers
from jobs.worker import _after_job_end, _on_job_start, build_worker
from tests.fixtures.worker import OwnRedis

NAMESPACE_ENV = "MATCHGRAPH_REDIS_NAMESPACE"


@pytest.fixture(autouse=True)
def _no_namespace_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAMESPACE_ENV, raising=False)


@pytest.mark.parametrize(
    ("url", "namespace"),
    [
        ("redis://127.0.0.1:6379/0", "matchgraph"),
        ("redis://127.0.0.1:6379", "matchgraph"),
        ("redis://127.0.0.1:6379/3", "matchgraph:db3"),
        ("redis://:secret@127.0.0.1:6379?db=5", "matchgraph:db5"),
        ("rediss://user:secret@redis.internal:6380/12", "matchgraph:db12"),
        ("unix:///run/redis/redis.sock?db=2", "matchgraph:db2"),
    ],
)
def test_the_default_namespace_follows_the_database(url: str, namespace: str) -> None:
    settings = Settings(redis_url=url)
    assert settings.effective_redis_namespace == namespace
    assert settings.redis_names == RedisNames(namespace)


def test_the_namespace_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHGRAPH_REDIS_URL", "redis://127.0.0.1:6379/4")
    assert Settings().redis_names.short_queue == "matchgraph:db4:queue:short"
    monkeypatch.setenv(NAMESPACE_ENV, "staging:blue")
    assert Settings().redis_names.short_queue == "staging:blue:queue:short"
    monkeypatch.setenv(NAMESPACE_ENV, "  ")  # blank: unset
    assert Settings().effective_redis_namespace == "matchgraph:db4"


@pytest.mark.parametrize("bad", ["team*", "a b", "a?", "[ab]", ":a", "a:", "a::b", "a\\b"])
def test_a_namespace_a_scan_pattern_would_misread_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="redis_namespace"):
        Settings(redis_namespace=bad)


def test_every_name_we_choose_carries_the_namespace() -> None:
    names = RedisNames("matchgraph:db3")
    chosen = [
        *names.queues.values(),
        names.task_events_channel,
        names.live_scores_channel,
        *(names.wake_channel(queue) for queue in names.queues.values()),
        names.task_started_key("job"),
        names.worker_health_prefix,
        health_key(names, names.short_queue, "host-1"),
    ]
    assert all(name.startswith("matchgraph:db3:") for name in chosen), chosen
    assert names.queue_for("predict_match") == names.short_queue
    assert names.queue_for("batch_inference") == names.long_queue
    # Database 0 keeps the names that running deployments (and dashboards) already use.
    zero = RedisNames()
    assert [
        zero.short_queue,
        zero.long_queue,
        zero.task_events_channel,
        zero.wake_channel(zero.short_queue),
        zero.task_started_key("job"),
        zero.worker_health_prefix,
    ] == [
        "matchgraph:queue:short",
        "matchgraph:queue:long",
        "matchgraph:task-events",
        "matchgraph:wake:matchgraph:queue:short",
        "matchgraph:task-started:job",
        "matchgraph:worker:",
    ]


# Two stacks on one Redis server: on two databases with the default namespaces (the
# issue's case), and on one database with a namespace each.
STACKS = {
    "two-databases": (("/1", None), ("/2", None)),
    "one-database-two-namespaces": (("/0", "blue"), ("/0", "green")),
}


@pytest.fixture(params=list(STACKS), ids=list(STACKS))
def two_stacks(request: pytest.FixtureRequest, own_redis: OwnRedis) -> tuple[Settings, Settings]:
    base = f"redis://127.0.0.1:{own_redis.port}"
    first, second = (
        Settings(redis_url=base + db, redis_namespace=namespace)
        for db, namespace in STACKS[request.param]
    )
    assert first.redis_names != second.redis_names
    return first, second


@contextlib.asynccontextmanager
async def _queues(*stacks: Settings) -> AsyncIterator[list[TaskQueue]]:
    async with contextlib.AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(open_task_queue(s)) for s in stacks]
        for queue in opened:
            await asyncio.wait_for(queue.hub.connected.wait(), 10)
        yield opened


async def _subscribed(redis: Redis, channel: str) -> None:
    deadline = time.monotonic() + 10
    while dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
        assert time.monotonic() < deadline, f"nobody subscribed to {channel}"
        await asyncio.sleep(0.02)


async def test_task_events_reach_only_their_namespace(
    two_stacks: tuple[Settings, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's start and end events of one stack wake no follower of the other,
    even for the same job id (arq's own keys are per database; ids are uuid4s)."""
    first, second = two_stacks
    async with _queues(first, second) as (ours, theirs):
        heard: list[Any] = []
        dispatch = theirs.hub._dispatch
        monkeypatch.setattr(
            theirs.hub, "_dispatch", lambda data: (heard.append(data), dispatch(data))
        )
        redis = Redis.from_url(first.redis_url)
        try:
            ctx = {
                "redis": redis,
                "job_id": "same-job-id",
                "names": first.redis_names,
                "resources": SimpleNamespace(settings=first),
            }
            async with ours.hub.waiter("same-job-id") as mine, theirs.hub.waiter("same-job-id"):
                await _on_job_start(ctx)  # what our worker does when a job starts...
                await asyncio.wait_for(mine.changed.wait(), 10)
                news = mine.take()
                assert news is not None and news["status"] == events.STARTED
                await _after_job_end(ctx)  # ...and when it ends
                await asyncio.wait_for(mine.changed.wait(), 10)
                # One connection delivers in order: their sentinel comes after anything of ours.
                other = Redis.from_url(second.redis_url)
                try:
                    sentinel = events.event_message("sentinel", events.ENDED)
                    await other.publish(second.redis_names.task_events_channel, sentinel)
                finally:
                    await other.aclose()
                deadline = time.monotonic() + 10
                while not heard:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.01)
                assert heard == [sentinel]
            assert await redis.exists(first.redis_names.task_started_key("same-job-id"))
            assert not await redis.exists(second.redis_names.task_started_key("same-job-id"))
        finally:
            await redis.aclose()


async def test_an_enqueue_wakes_only_the_workers_of_its_namespace(
    two_stacks: tuple[Settings, Settings],
) -> None:
    resources: Any = SimpleNamespace(prediction_counts=lambda: (0, 0), batch_while=lambda f: None)
    workers = [build_worker(s.redis_names.short_queue, s, resources) for s in two_stacks]
    listeners = [asyncio.create_task(w._listen()) for w in workers]
    control = Redis.from_url(two_stacks[0].redis_url)
    try:
        for settings in two_stacks:
            names = settings.redis_names
            await _subscribed(control, names.wake_channel(names.short_queue))
        await asyncio.sleep(0.1)  # a listener wakes its worker once when it (re)subscribes
        async with _queues(*two_stacks) as queues:
            for index, queue in enumerate(queues):
                for worker in workers:
                    worker._wake.clear()
                await queue.client.enqueue("predict_match", match_id=1, stage="champion")
                await asyncio.wait_for(workers[index]._wake.wait(), 10)
                await asyncio.sleep(0.3)
                assert not workers[1 - index]._wake.is_set()
            for queue in queues:  # each queue holds its own job only
                depths = await queue.client.queue_depths()
                assert depths == {
                    queue.client.names.short_queue: 1,
                    queue.client.names.long_queue: 0,
                }
    finally:
        await control.aclose()
        for worker, listener in zip(workers, listeners, strict=True):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            # Not worker.close(): arq's calls redis-py's deprecated close() (a warning here).
            await worker.pool.aclose(close_connection_pool=True)
            await worker._wake_redis.aclose()


async def test_workers_are_listed_per_namespace(own_redis: OwnRedis) -> None:
    """Heartbeats of two namespaces in one database: each lists its own."""
    blue, green = RedisNames("blue"), RedisNames("green")
    redis = Redis.from_url(own_redis.url)
    try:
        for names, worker in ((blue, "b-1"), (green, "g-1"), (green, "g-2")):
            beat = health_payload(complete=0, failed=0, ongoing=0, queued=0)
            await redis.set(health_key(names, names.short_queue, worker), beat, ex=60)
        now = datetime.now(UTC)
        listed = {
            names.namespace: [
                (w.queue, w.name, w.alive) for w in await list_workers(redis, names, now=now)
            ]
            for names in (blue, green)
        }
    finally:
        await redis.aclose()
    assert listed == {
        "blue": [("blue:queue:short", "b-1", True)],
        "green": [("green:queue:short", "g-1", True), ("green:queue:short", "g-2", True)],
    }
