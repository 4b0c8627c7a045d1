"""Graceful drain on SIGTERM (README "Graceful shutdown"), with `matchgraph serve` run as
users run it, a real worker for a slow operation, and each subscription transport open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import websockets

from api import metrics
from api.drain import WS_CLOSE_CODE
from graph.settings import Settings
from tests.fixtures.ports import free_port
from tests.fixtures.server import LiveServer
from tests.fixtures.sse import EVENT_STREAM, TOKEN_HEADER, Event, events
from tests.fixtures.worker import WorkerProcess, worker_env
from tests.fixtures.ws import LEGACY_WS, TRANSPORT_WS

SUBSCRIPTION = "subscription { dataUpdated { dataVersion } }"
SLOW = (
    "mutation($m: Int!) { predictMatch(matchId: $m, wait: true) { status result { probaHome } } }"
)
SUBMIT = "mutation($m: Int!) { predictMatch(matchId: $m) { id status } }"
TASK = "query($id: ID!) { task(id: $id) { status result { probaHome } } }"
JS_DIR = Path(__file__).parent / "js"  # the npm clients (`make test` runs `npm ci` there)
JOB_DELAY = "5"  # seconds a job holds its worker: the slow operation the drain waits for


@dataclass
class Served:
    """One `matchgraph serve` process."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text()[-4000:]


@pytest.fixture
def drain_settings(live_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """This session's Redis database, in a namespace of this test's own (its workers
    take no other test's jobs)."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", request.node.name)
    return live_settings.model_copy(update={"redis_namespace": f"drain-{os.getpid()}-{name}"})


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `matchgraph serve` subprocesses (killed at the end if still running)."""
    started: list[Served] = []

    def _start(settings: Settings, *, workers: int = 1, **env: str) -> Served:
        port = free_port()
        log = tmp_path / f"serve-{len(started)}.log"
        environment = worker_env(
            settings, MATCHGRAPH_STORAGE="local", MATCHGRAPH_PORT=str(port), **env
        )
        environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
        command = [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        served = Served(process, f"http://127.0.0.1:{port}", log)
        started.append(served)
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, served.tail()
            assert time.monotonic() < deadline, served.tail()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{served.url}/ready", timeout=2).status_code == 200:
                    return served
            time.sleep(0.2)

    yield _start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(timeout=30)


@pytest.fixture
def upcoming(demo_dir: Path) -> int:
    """A match with every feature: the worker can predict it."""
    catalog = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    return int(catalog[catalog.filter(like="diff_").notna().all(axis=1)].index[-1])


async def _until(check: Callable[[], Awaitable[Any]], what: str, within: float = 60) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def _metric(url: str, line: str) -> bool:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        return line in (await client.get("/metrics")).text


@contextlib.asynccontextmanager
async def _ws_subscription(url: str, protocol: str) -> AsyncIterator[Any]:
    """A `dataUpdated` subscription whose first result arrived."""
    async with websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[protocol]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        start = "subscribe" if protocol == TRANSPORT_WS else "start"
        await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": SUBSCRIPTION}}))
        first = {"type": "ka"}
        while first["type"] == "ka":  # the legacy protocol's keep-alive
            first = json.loads(await ws.recv())
        assert first["type"] in ("next", "data") and "errors" not in first["payload"], first
        yield ws


async def _close_of(ws: Any) -> tuple[int | None, str, list[dict[str, Any]]]:
    """Read until the server closes: its close code and reason, and the frames before."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(json.loads(await ws.recv()))
    except websockets.ConnectionClosed as closed:
        if closed.rcvd is None:
            return None, "", frames
        return closed.rcvd.code, closed.rcvd.reason, frames


async def _rest(stream: AsyncIterator[Event]) -> list[Event]:
    """The events (comments left out) until the server ends the stream."""
    return [event async for event in stream if event.event is not None]


async def _first_event(stream: AsyncIterator[Event]) -> Event:
    async for event in stream:
        if event.event is not None:
            return event
    raise AssertionError("the stream ended before its first event")


def _shutting_down(event: Event, operation_id: str | None = None) -> bool:
    payload = event.data if operation_id is None else event.data["payload"]
    if operation_id is not None and event.data["id"] != operation_id:
        return False
    codes = [e["extensions"]["code"] for e in payload.get("errors", [])]
    return event.event == "next" and codes == ["SHUTTING_DOWN"] and "data" not in payload


async def test_sigterm_drains_every_transport_and_exits_zero(
    drain_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    start_serve: Callable[..., Served],
    upcoming: int,
) -> None:
    worker = start_worker(drain_settings, queues="short", MATCHGRAPH_JOB_DELAY_SECONDS=JOB_DELAY)
    served = start_serve(drain_settings, MATCHGRAPH_DRAIN_SECONDS="60")
    url = served.url
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
            for _ in range(4)
        ]
        slow_client, sse_client, ready_probe, metrics_probe = clients
        transport = await stack.enter_async_context(_ws_subscription(url, TRANSPORT_WS))
        legacy = await stack.enter_async_context(_ws_subscription(url, LEGACY_WS))
        # SSE, distinct connections mode: the stream is the operation's response.
        distinct_response = await stack.enter_async_context(
            sse_client.stream(
                "POST", "/graphql/stream", json={"query": SUBSCRIPTION}, headers=EVENT_STREAM
            )
        )
        distinct = events(distinct_response)
        assert (await _first_event(distinct)).event == "next"
        # SSE, single connection mode: reserve, open the stream, run an operation on it.
        token = (await sse_client.put("/graphql/stream")).text
        single_response = await stack.enter_async_context(
            sse_client.stream(
                "GET", "/graphql/stream", headers={**EVENT_STREAM, TOKEN_HEADER: token}
            )
        )
        single = events(single_response)
        body = {"query": SUBSCRIPTION, "extensions": {"operationId": "op1"}}
        submitted = await sse_client.post(
            "/graphql/stream", json=body, headers={TOKEN_HEADER: token}
        )
        assert submitted.status_code == 202, submitted.text
        assert (await _first_event(single)).data["id"] == "op1"
        for mode in ("distinct", "single"):
            assert await _metric(url, f'matchgraph_sse_streams{{mode="{mode}"}} 1.0')
        # A slow HTTP operation (the worker holds the job JOB_DELAY s), running at SIGTERM.
        slow = asyncio.create_task(
            slow_client.post("/graphql", json={"query": SLOW, "variables": {"m": upcoming}})
        )
        in_progress = 'matchgraph_requests_in_progress{route="/graphql"} 1.0'
        await _until(lambda: _metric(url, in_progress), "the slow operation runs")
        for probe in (ready_probe, metrics_probe):  # kept-alive connections, opened before
            assert (await probe.get("/health")).status_code == 200

        served.process.send_signal(signal.SIGTERM)

        # Each subscription ends with the documented reason.
        for ws in (transport, legacy):
            code, reason, frames = await asyncio.wait_for(_close_of(ws), 30)
            assert (code, reason) == (WS_CLOSE_CODE, "SHUTTING_DOWN: reconnect"), (code, reason)
            assert not [f for f in frames if f["type"] == "complete"], frames
        rest = await asyncio.wait_for(_rest(distinct), 30)
        assert len(rest) == 1 and _shutting_down(rest[0]), rest  # and no `complete`
        rest = await asyncio.wait_for(_rest(single), 30)
        assert len(rest) == 1 and _shutting_down(rest[0], "op1"), rest
        # Still draining (the slow operation runs): not ready, on a kept-alive connection.
        ready = await ready_probe.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "draining", ready.text
        assert ready.headers["connection"] == "close"
        scraped = await metrics_probe.get("/metrics")
        assert "matchgraph_draining 1.0" in scraped.text
        # The listener is closed: a new connection is refused.
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=url, timeout=10) as fresh:
                await fresh.get("/health")
        # The running operation finished, with its data.
        answer = await asyncio.wait_for(slow, 60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["predictMatch"]["status"] == "COMPLETE", answer.text
        assert answer.headers["connection"] == "close"
        returncode = await asyncio.to_thread(served.process.wait, 60)
    worker.stop()
    assert returncode == 0, served.tail()
    assert "drained: 0 request(s) still running" in served.tail()


async def test_drain_is_bounded_in_every_worker_process(
    drain_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    start_serve: Callable[..., Served],
    upcoming: int,
) -> None:
    """`--workers 2`: each worker process drains (our server runs in uvicorn's children);
    an operation longer than MATCHGRAPH_DRAIN_SECONDS is cut off and the exit is still 0."""
    worker = start_worker(drain_settings, queues="short", MATCHGRAPH_JOB_DELAY_SECONDS=JOB_DELAY)
    served = start_serve(drain_settings, workers=2, MATCHGRAPH_DRAIN_SECONDS="1")
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(_ws_subscription(served.url, TRANSPORT_WS))
            for _ in range(4)  # over two processes, most likely both
        ]
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=served.url, timeout=60))
        slow = asyncio.create_task(
            client.post("/graphql", json={"query": SLOW, "variables": {"m": upcoming}})
        )
        in_progress = 'matchgraph_requests_in_progress{route="/graphql"} 1.0'
        await _until(lambda: _metric(served.url, in_progress), "the slow operation runs")

        served.process.send_signal(signal.SIGTERM)

        for ws in sockets:
            code, reason, _ = await asyncio.wait_for(_close_of(ws), 30)
            assert (code, reason) == (WS_CLOSE_CODE, "SHUTTING_DOWN: reconnect")
        try:
            answer = await asyncio.wait_for(slow, 60)
        except httpx.HTTPError:
            pass  # cut off without an answer
        else:
            assert answer.status_code != 200, answer.text  # cut off: not its data
        returncode = await asyncio.to_thread(served.process.wait, 60)
    worker.stop()
    assert returncode == 0, served.tail()
    log = served.log.read_text()
    assert len(set(re.findall(r"Finished server process \[(\d+)\]", log))) == 2, log


@pytest.mark.parametrize("mode", ["ws", "sse-distinct", "sse-single"])
async def test_reference_clients_reconnect_to_another_replica(
    drain_settings: Settings, start_serve: Callable[..., Served], mode: str
) -> None:
    """npm graphql-ws / graphql-sse with their retry options: replica A drains, the client
    goes on with B (its `url` function is the load balancer that dropped A)."""
    a = start_serve(drain_settings)
    b = start_serve(drain_settings)
    node = await asyncio.create_subprocess_exec(
        "node",
        "drain.mjs",
        mode,
        f"{a.url}/graphql",
        f"{b.url}/graphql",
        cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "TIMEOUT_MS": "60000"},
    )
    assert node.stdout is not None
    first = await asyncio.wait_for(node.stdout.readline(), 60)
    assert json.loads(first or b"{}") == {"ready": True}, (first, await node.stderr.read())  # type: ignore[union-attr]
    a.process.send_signal(signal.SIGTERM)
    last = await asyncio.wait_for(node.stdout.readline(), 90)
    await node.wait()
    result = json.loads(last)
    assert "error" not in result, result
    assert node.returncode == 0
    assert result["urls"][0].endswith(
        a.url.split("//")[1] + "/graphql" + ("" if mode == "ws" else "/stream")
    )
    assert all(b.url.split("//")[1] in u for u in result["urls"][1:]), result
    results = result["results"]
    assert results[0]["result"]["data"]["dataUpdated"]["dataVersion"]
    assert results[-1]["result"]["data"]["dataUpdated"]["dataVersion"]
    if mode == "ws":
        assert result["closes"][0] == {"code": WS_CLOSE_CODE, "reason": "SHUTTING_DOWN: reconnect"}
    else:  # the app saw why: a SHUTTING_DOWN error result before the reconnect
        codes = [e["extensions"]["code"] for r in results for e in r["result"].get("errors", [])]
        assert codes == ["SHUTTING_DOWN"], results
    assert await asyncio.to_thread(a.process.wait, 60) == 0, a.tail()


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_sse_streams_are_counted_and_left_out_of_request_durations(
    api: LiveServer,
) -> None:
    route = {"method": "POST", "route": "/graphql/stream"}
    durations = _sample("matchgraph_request_duration_seconds_count", **route)
    answered = _sample("matchgraph_requests_total", **route, status="200")
    refused = _sample("matchgraph_requests_total", **route, status="415")
    open_before = _sample("matchgraph_sse_streams", mode="distinct")
    async with api.client() as client:
        async with client.stream(
            "POST", "/graphql/stream", json={"query": SUBSCRIPTION}, headers=EVENT_STREAM
        ) as response:
            assert (await _first_event(events(response))).event == "next"
            assert _sample("matchgraph_sse_streams", mode="distinct") == open_before + 1
        # the client left: the stream ends, the gauge goes down
        await _until(
            lambda: _async(_sample("matchgraph_sse_streams", mode="distinct") == open_before),
            "the stream is counted out",
        )
        # a refusal on the same route is a short answer: observed
        refusal = await client.post(
            "/graphql/stream", content=b"{}", headers={**EVENT_STREAM, "content-type": "text/plain"}
        )
        assert refusal.status_code == 415
    assert _sample("matchgraph_requests_total", **route, status="200") == answered + 1
    assert _sample("matchgraph_requests_total", **route, status="415") == refused + 1
    assert _sample("matchgraph_request_duration_seconds_count", **route) == durations + 1


async def _async(value: bool) -> bool:
    return value


async def test_worker_finishes_its_running_job_on_sigterm(
    drain_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    serve: Callable[..., LiveServer],
    upcoming: int,
) -> None:
    """The worker takes no new job after SIGTERM and finishes the running one within
    MATCHGRAPH_DRAIN_SECONDS (no other worker is there to take it over)."""
    worker = start_worker(
        drain_settings,
        queues="short",
        MATCHGRAPH_JOB_DELAY_SECONDS="3",
        MATCHGRAPH_DRAIN_SECONDS="60",
    )
    api = serve(
        data_dir=drain_settings.data_dir,
        redis_url=drain_settings.redis_url,
        redis_namespace=drain_settings.redis_namespace,
    )
    task_id = (await api.data(SUBMIT, {"m": upcoming}))["predictMatch"]["id"]

    async def running() -> bool:
        return (await api.data(TASK, {"id": task_id}))["task"]["status"] == "IN_PROGRESS"

    await _until(running, "the job runs")
    worker.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.process.wait, 60) == 0, worker.log.read_text()[-3000:]
    task = (await api.data(TASK, {"id": task_id}))["task"]
    assert task["status"] == "COMPLETE" and task["result"]["probaHome"] > 0, task
    assert "waiting up to 60 s for 1 running job(s)" in worker.log.read_text()
