"""The worker outlives its dependencies: Redis and the database go away and come back.

Each test runs a Redis (and, for the database, a PostgreSQL) of its own, a
started `matchgraph worker` and the real API, and polls for what it expects
with deadlines: a loaded two-core machine decides how long things take.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import websockets

from graph.settings import Settings
from tests import feed_samples
from tests.fixtures.database import OwnPostgres
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.worker import OwnRedis, WorkerProcess
from tests.fixtures.ws import TRANSPORT_WS, subscribe

WAIT = "mutation($m: Int!) { predictMatch(matchId: $m, wait: true) { id status error } }"
SUBMIT = "mutation($m: Int!) { predictMatch(matchId: $m) { id status } }"
SUBMIT_AND_FOLLOW = "subscription($m: Int!) { predictMatch(matchId: $m) { id status error } }"
FOLLOW = "subscription($id: ID!) { task(id: $id) { id status error } }"
TASK = "query($id: ID!) { task(id: $id) { id status error result { probaHome } } }"
WORKERS = "{ workers { name queue alive lastHeartbeat } }"
INGEST = "mutation($s: String!) { ingestLivescores(source: $s) { id } }"
INGEST_TASK = (
    "query($id: ID!) { task(id: $id) { status error ingestResult { inserted unchanged } } }"
)
TERMINAL = {"COMPLETE", "FAILED", "NOT_FOUND"}
LOST = "Redis lost"
BACK = "Redis is back after"


@pytest.fixture
def worker_for(start_worker: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """`start_worker`, stopping this test's workers when it ends (before its own Redis)."""
    started: list[WorkerProcess] = []

    def _start(settings: Settings, **kwargs: Any) -> WorkerProcess:
        worker: WorkerProcess = start_worker(settings, **kwargs)
        started.append(worker)
        return worker

    yield _start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def match_ids(demo_dir: Path) -> list[int]:
    """Matches with every feature: each can be predicted."""
    frame = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    return [int(i) for i in frame[frame.filter(like="diff_").notna().all(axis=1)].index[-40:]]


async def until(
    check: Callable[[], Awaitable[Any]], what: str, within: float = 30, every: float = 0.1
) -> Any:
    """Poll `check` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        await asyncio.sleep(every)


async def _true(value: Any) -> Any:
    return value


async def probe(api: LiveServer, path: str) -> dict[str, Any]:
    async with api.client() as client:
        response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


def no_live_worker(queue: str) -> str:
    return f"workers: no live worker heartbeating on queue {queue}"


def log_lines(worker: WorkerProcess, text: str) -> list[str]:
    return [line for line in worker.log.read_text().splitlines() if text in line]


async def saw_the_loss(worker: WorkerProcess) -> None:
    """The worker noticed that Redis is gone (said so in its log), and it still runs."""

    async def noticed() -> bool:
        return bool(log_lines(worker, LOST)) or worker.process.poll() is not None

    await until(noticed, "the worker logs the loss", within=15)
    assert worker.process.poll() is None, f"the worker exited:\n{worker.log.read_text()[-3000:]}"


def worker_name_of(worker: WorkerProcess) -> str:
    return f"-{worker.process.pid}"


async def live_workers_of(api: LiveServer, worker: WorkerProcess) -> set[str]:
    """The queues on which `worker` (by pid) heartbeats, alive."""
    workers = (await api.data(WORKERS))["workers"]
    suffix = worker_name_of(worker)
    return {w["queue"] for w in workers if w["alive"] and w["name"].endswith(suffix)}


class Load:
    """Clients predicting back to back, blocking (`wait: true`) and subscribed; what each
    got and when. Refusals while Redis is down are expected and only counted."""

    def __init__(self, api: LiveServer, match_ids: list[int]) -> None:
        self.api = api
        self.match_ids = match_ids
        self.completed: list[float] = []  # monotonic times of COMPLETE answers
        self.outcomes: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, waiting: int = 3, subscribed: int = 2) -> None:
        for n in range(waiting):
            self._tasks.append(asyncio.create_task(self._waiting(n)))
        for n in range(subscribed):
            self._tasks.append(asyncio.create_task(self._subscribed(n)))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def completed_since(self, moment: float) -> int:
        return sum(1 for t in self.completed if t > moment)

    def _match(self, n: int) -> int:
        return self.match_ids[n % len(self.match_ids)]

    def _record(self, status: str) -> None:
        self.outcomes[status] += 1
        if status == "COMPLETE":
            self.completed.append(time.monotonic())

    async def _waiting(self, n: int) -> None:
        while not self._stop.is_set():
            body = await self.api.graphql(WAIT, {"m": self._match(n)})
            if body.get("errors"):
                self._record(body["errors"][0]["extensions"]["code"])
                await asyncio.sleep(0.1)
            else:
                self._record(body["data"]["predictMatch"]["status"])
            n += 1

    async def _subscribed(self, n: int) -> None:
        while not self._stop.is_set():
            try:
                states = await subscribe(
                    self.api.ws_url, SUBMIT_AND_FOLLOW, {"m": self._match(n)}, within=60
                )
                self._record(states[-1]["predictMatch"]["status"])
            except AssertionError:  # an error frame: the submission was refused
                self._record("refused")
                await asyncio.sleep(0.1)
            n += 1


async def test_the_worker_serves_again_after_a_redis_restart_under_load(
    serve: ServeFactory,
    live_settings: Settings,
    own_redis: OwnRedis,
    worker_for: Callable[..., WorkerProcess],
    match_ids: list[int],
) -> None:
    settings = live_settings.model_copy(update={"redis_url": own_redis.url})
    api = serve(data_dir=settings.data_dir, redis_url=own_redis.url)
    worker = worker_for(settings)
    pid = worker.process.pid
    load = Load(api, match_ids)
    load.start()
    try:
        await until(lambda: _true(len(load.completed) >= 5), "load served before the outage")

        own_redis.kill()
        killed = time.monotonic()

        async def redis_listed() -> bool:
            ready = await probe(api, "/ready")
            return any(d.startswith("redis:") for d in ready["degraded"])

        await until(redis_listed, "/ready lists Redis while it is down", within=15)
        await saw_the_loss(worker)
        # an outage of a couple of seconds: several reconnect attempts, one log line
        await asyncio.sleep(max(0.0, killed + 2.5 - time.monotonic()))
        assert worker.process.poll() is None, worker.log.read_text()[-3000:]

        own_redis.start()  # empty: no persistence
        back = time.monotonic()
        await until(
            lambda: _true(load.completed_since(back) >= 3),
            "predictions complete again after Redis is back",
            within=30,
        )
        served_again = min(t for t in load.completed if t > back) - back
        assert worker.process.pid == pid and worker.process.poll() is None

        async def heartbeating() -> bool:
            return await live_workers_of(api, worker) == set(settings.redis_names.queues.values())

        await until(heartbeating, "the same worker heartbeats on both queues again", within=20)

        async def ready_clean() -> bool:
            ready = await probe(api, "/ready")
            return not ready["degraded"]

        await until(ready_clean, "/ready lists nothing once Redis and the worker are back")
    finally:
        await load.stop()
    assert len(log_lines(worker, LOST)) == 1, log_lines(worker, LOST)
    assert len(log_lines(worker, BACK)) == 1, log_lines(worker, BACK)
    assert "Traceback" not in worker.log.read_text()
    assert load.outcomes["COMPLETE"] > 0 and served_again < 30, (served_again, load.outcomes)


async def _statuses(api: LiveServer, ids: list[str]) -> dict[str, dict[str, Any]]:
    found = await asyncio.gather(*(api.data(TASK, {"id": i}) for i in ids))
    return {task_id: data["task"] for task_id, data in zip(ids, found, strict=True)}


async def _outage(redis: OwnRedis, worker: WorkerProcess, hold: float = 1.5) -> None:
    """Kill Redis, wait until the worker saw it, keep it down `hold` s, start it again."""
    redis.kill()
    killed = time.monotonic()
    await saw_the_loss(worker)
    await asyncio.sleep(max(0.0, killed + hold - time.monotonic()))  # an outage this long
    assert worker.process.poll() is None, worker.log.read_text()[-3000:]
    redis.start()


async def test_no_job_is_lost_when_an_aof_redis_restarts(
    serve: ServeFactory,
    live_settings: Settings,
    own_aof_redis: OwnRedis,
    worker_for: Callable[..., WorkerProcess],
    match_ids: list[int],
) -> None:
    settings = live_settings.model_copy(update={"redis_url": own_aof_redis.url})
    api = serve(data_dir=settings.data_dir, redis_url=own_aof_redis.url)
    # Two at a time, each held 1 s: a backlog. Redis dies right after a poll saw jobs in
    # progress, so they still run then, and stays down longer than they have left.
    worker = worker_for(
        settings,
        queues="short",
        MATCHGRAPH_WORKER_MAX_JOBS="2",
        MATCHGRAPH_JOB_DELAY_SECONDS="1",
    )
    pid = worker.process.pid
    ids = [(await api.data(SUBMIT, {"m": m}))["predictMatch"]["id"] for m in match_ids[:14]]

    async def some_done() -> bool:
        statuses = Counter(t["status"] for t in (await _statuses(api, ids)).values())
        return statuses["COMPLETE"] >= 2 and statuses["IN_PROGRESS"] >= 1

    await until(some_done, "a few jobs done, others running", every=0.05)
    await _outage(own_aof_redis, worker, hold=2.5)

    async def all_complete() -> dict[str, dict[str, Any]] | None:
        tasks = await _statuses(api, ids)
        return tasks if all(t["status"] == "COMPLETE" for t in tasks.values()) else None

    # Well within an interrupted job's in-progress mark (short timeout 30 s + 10 s): the
    # worker lifts the marks of the jobs the outage cut off, they need not expire.
    tasks = await until(all_complete, "every job submitted before the kill completes", within=30)
    assert all(t["result"]["probaHome"] > 0 for t in tasks.values())
    assert worker.process.pid == pid and worker.process.poll() is None
    # the jobs running at the kill were among them: cut off, then queued again at once
    assert log_lines(worker, "cut off by the outage queued again"), worker.log.read_text()[-3000:]


class Follower:
    """One subscription whose every state is kept as it arrives."""

    def __init__(self, url: str, query: str, variables: dict[str, Any]) -> None:
        self.states: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.task = asyncio.create_task(self._run(url, query, variables))

    async def _run(self, url: str, query: str, variables: dict[str, Any]) -> None:
        async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            message = {"query": query, "variables": variables}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": message}))
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "next":
                    if "errors" in frame["payload"]:
                        self.errors.append(frame["payload"]["errors"])
                    else:
                        self.states.append(frame["payload"]["data"]["task"])
                elif frame["type"] == "complete":
                    return
                else:
                    self.errors.append(frame)
                    return


async def test_a_redis_that_lost_its_data_ends_every_wait_with_a_reason(
    serve: ServeFactory,
    live_settings: Settings,
    own_redis: OwnRedis,
    worker_for: Callable[..., WorkerProcess],
    match_ids: list[int],
) -> None:
    settings = live_settings.model_copy(update={"redis_url": own_redis.url})
    # Blocking calls may wait a minute: only the lost tasks' end may release them in time.
    api = serve(data_dir=settings.data_dir, redis_url=own_redis.url, sync_timeout=60)
    worker = worker_for(
        settings,
        queues="short",
        MATCHGRAPH_WORKER_MAX_JOBS="2",
        MATCHGRAPH_JOB_DELAY_SECONDS="0.5",
    )
    ids = [(await api.data(SUBMIT, {"m": m}))["predictMatch"]["id"] for m in match_ids[:16]]
    followers = [Follower(api.ws_url, FOLLOW, {"id": i}) for i in ids]
    waiting = [asyncio.create_task(api.graphql(WAIT, {"m": m})) for m in match_ids[16:20]]
    await until(lambda: _true(all(f.states for f in followers)), "every follower attached")
    started = time.monotonic()
    await _outage(own_redis, worker)  # back empty

    done, _ = await asyncio.wait([f.task for f in followers] + waiting, timeout=45)
    assert len(done) == len(followers) + len(waiting), "somebody is still waiting"
    assert time.monotonic() - started < 45
    ends = [f.states[-1] for f in followers]
    assert all(not f.errors for f in followers), [f.errors for f in followers]
    for body in (w.result() for w in waiting):
        assert "errors" not in body, body
        ends.append(body["data"]["predictMatch"])
    assert all(end["status"] in TERMINAL for end in ends), ends
    assert all(end["error"] for end in ends if end["status"] != "COMPLETE"), ends
    vanished = [end for end in ends if end["status"] == "NOT_FOUND"]
    assert vanished and all("vanished" in end["error"] for end in vanished), ends
    asked = (await api.data(TASK, {"id": vanished[0]["id"]}))["task"]
    assert asked["status"] == "NOT_FOUND" and "lost" in asked["error"]
    assert worker.process.poll() is None


def _store_feed(settings: Settings, name: str) -> str:
    path = settings.data_dir / "data-raw" / "feeds" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(feed_samples.WHOSCORED.read_bytes())
    return f"data-raw/feeds/{name}"


async def _ingest(api: LiveServer, source: str) -> dict[str, Any]:
    task_id = (await api.data(INGEST, {"s": source}))["ingestLivescores"]["id"]

    async def ended() -> dict[str, Any] | None:
        task: dict[str, Any] = (await api.data(INGEST_TASK, {"id": task_id}))["task"]
        return task if task["status"] in TERMINAL else None

    result: dict[str, Any] = await until(ended, "the ingestion ends", within=60)
    return result


async def test_the_worker_outlives_its_database(
    serve: ServeFactory,
    live_settings: Settings,
    own_redis: OwnRedis,
    own_postgres: OwnPostgres,
    worker_for: Callable[..., WorkerProcess],
) -> None:
    settings = live_settings.model_copy(
        update={"redis_url": own_redis.url, "database_url": own_postgres.url}
    )
    api = serve(data_dir=settings.data_dir, redis_url=own_redis.url, database_url=own_postgres.url)
    source = _store_feed(settings, "whoscored-outage.json")

    async def fails_with_a_reason() -> None:
        task = await _ingest(api, source)
        assert task["status"] == "FAILED", task
        assert "database is unavailable" in task["error"], task
        assert worker.process.poll() is None, worker.log.read_text()[-3000:]

    own_postgres.stop()  # down before the worker even starts: no table yet either
    worker = worker_for(settings, queues="long")
    pid = worker.process.pid
    await fails_with_a_reason()
    own_postgres.start()
    first = await _ingest(api, source)
    assert first["status"] == "COMPLETE", first
    assert first["ingestResult"]["inserted"] == 57

    own_postgres.stop()  # immediate, as a crash: the worker's pooled connections are cut
    await fails_with_a_reason()
    own_postgres.start()
    after = await _ingest(api, source)
    assert after["status"] == "COMPLETE", after
    assert after["ingestResult"]["unchanged"] == 57  # what was written before is still there
    assert worker.process.pid == pid and worker.process.poll() is None


async def test_health_ready_and_workers_say_when_no_worker_is_alive(
    serve: ServeFactory,
    live_settings: Settings,
    own_redis: OwnRedis,
    worker_for: Callable[..., WorkerProcess],
) -> None:
    settings = live_settings.model_copy(update={"redis_url": own_redis.url})
    api = serve(data_dir=settings.data_dir, redis_url=own_redis.url)
    expected = [no_live_worker("short"), no_live_worker("long")]

    async def reported(path: str) -> bool:
        body = await probe(api, path)
        return all(entry in body["degraded"] for entry in expected)

    await until(lambda: reported("/health"), "/health lists the queues without a worker")
    health = await probe(api, "/health")
    assert health["status"] == "degraded"
    assert await reported("/ready")
    data = await api.data("{ workers { name alive } health { status degraded } }")
    assert data["workers"] == []
    assert set(expected) <= set(data["health"]["degraded"])

    worker = worker_for(settings)

    async def cleared() -> bool:
        body = await probe(api, "/health")
        return body["status"] == "ok" and not body["degraded"]

    await until(cleared, "/health is ok once a worker heartbeats", within=20)

    worker.kill()  # SIGKILL: no goodbye, its heartbeat just stops
    await until(lambda: reported("/health"), "/health notices the dead worker", within=30)
    assert await reported("/ready")
    listed = (await api.data(WORKERS))["workers"]
    dead = [w for w in listed if w["name"].endswith(worker_name_of(worker))]
    assert {w["queue"] for w in dead} == set(settings.redis_names.queues.values()), listed
    assert not any(w["alive"] for w in dead), dead
