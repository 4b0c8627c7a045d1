"""GET /metrics through the real API: counters move, gauges read sources and Redis.

The metric objects are per process, so every server of this test session
adds to the same counters: tests compare a scrape before with one after.
Multi-process mode is decided when prometheus-client is imported, so it runs
in a `matchgraph serve --workers 2` subprocess.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import redis
import websockets
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from api import metrics
from graph.health import VERSION
from graph.settings import Settings
from graph.sources.tables import DRIFT, ODDS, PREDICTIONS
from graph.taskqueue.workers import health_key, health_payload
from tests import datasets
from tests.fixtures.ports import free_port
from tests.fixtures.promtool import check_metrics
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.worker import OwnRedis
from tests.fixtures.ws import TRANSPORT_WS

# Every Redis these tests use is on database 0: the names of that database's namespace.
NAMES = Settings(redis_url="redis://127.0.0.1:6379/0").redis_names
SHORT_QUEUE, LONG_QUEUE = NAMES.short_queue, NAMES.long_queue

KEY = "s3cret-metrics-key"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(api: LiveServer, **kwargs: object) -> Samples:
    async with api.client() as client:
        response = await client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    return parse(response.text)


def sample(samples: Samples, name: str, **labels: str) -> float:
    """A sample that must be there."""
    return samples[(name, frozenset(labels.items()))]


def count(samples: Samples, name: str, **labels: str) -> float:
    """A counter sample; 0 when the series was never touched."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("metrics-small")
    datasets.write_set(root, 200)
    return root


@pytest.fixture(scope="module")
def dead_redis_url() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture(scope="module")
def small_api(serve: ServeFactory, small_dir: Path, dead_redis_url: str) -> LiveServer:
    return serve(data_dir=small_dir, redis_url=dead_redis_url)


PAGE = """query MetricsPage($f: Int!) {
  matches(first: $f) { edges { node { matchId prediction { probaHome } } } } }"""


async def test_requests_operations_errors_and_cache_hits_are_counted(
    small_api: LiveServer,
) -> None:
    before = await scrape(small_api)
    async with small_api.client() as client:
        payload = {"query": PAGE, "variables": {"f": 5}}
        first = await client.post("/graphql", json=payload)
        second = await client.post("/graphql", json=payload)
        bad = await client.post(
            "/graphql", json={"query": "query MetricsBad { matches(first: 999999) { totalCount } }"}
        )
        missing = await client.get("/no/such/path")
    assert first.headers["x-matchgraph-cache"] == "miss"
    assert second.headers["x-matchgraph-cache"] == "hit"
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert missing.status_code == 404
    after = await scrape(small_api)

    def delta(name: str, **labels: str) -> float:
        return count(after, name, **labels) - count(before, name, **labels)

    post = {"method": "POST", "route": "/graphql"}
    assert delta("matchgraph_requests_total", **post, status="200") == 3
    assert delta("matchgraph_request_duration_seconds_count", **post) == 3
    assert delta("matchgraph_request_duration_seconds_sum", **post) > 0
    assert delta("matchgraph_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("matchgraph_requests_total", method="GET", route="/metrics", status="200") == 1
    # The cache hit is not executed: one operation per distinct request.
    query = {"operation_type": "query"}
    names = small_api.app.state.operation_names
    page, bad_name = (names.label(n) for n in ("MetricsPage", "MetricsBad"))
    operations = "matchgraph_graphql_operations_total"
    ok = delta(operations, **query, operation_name=page, outcome="ok")
    failed = delta(operations, **query, operation_name=bad_name, outcome="error")
    assert (ok, failed) == (1, 1)
    assert delta("matchgraph_graphql_errors_total", code="BAD_USER_INPUT") == 1
    assert delta("matchgraph_graphql_errors_total", code="INTERNAL") == 0
    by_operation = "matchgraph_graphql_operation_errors_total"
    assert delta(by_operation, **query, operation_name=bad_name, code="BAD_USER_INPUT") == 1
    assert delta(by_operation, **query, operation_name=page, code="BAD_USER_INPUT") == 0
    for name in (page, bad_name):  # timed and priced once each, under their own names
        labels = {**query, "operation_name": name}
        assert delta("matchgraph_graphql_operation_duration_seconds_count", **labels) == 1
        assert delta("matchgraph_graphql_operation_duration_seconds_sum", **labels) > 0
        assert delta("matchgraph_graphql_operation_cost_count", **labels) == 1
    # matches 1 + 5 * (edge 1 + node 1 + prediction 1)
    assert delta("matchgraph_graphql_operation_cost_sum", **query, operation_name=page) == 16
    cache = "matchgraph_response_cache_requests_total"
    assert delta(cache, result="hit") == 1
    assert delta(cache, result="miss") == 1
    assert delta(cache, result="uncacheable") == 1  # an error is never stored
    # the page was planned (no loader ran); the bad `first` was handed to graphql-core
    planner = "matchgraph_planner_root_fields_total"
    assert delta(planner, outcome="planned") == 1
    assert delta(planner, outcome="error") == 1
    assert delta("matchgraph_loader_batches_total", loader="prediction") == 0
    assert sample(after, "matchgraph_requests_in_progress", route="/metrics") == 1  # this scrape
    build = sample(
        after, "matchgraph_build_info", version=VERSION, python=platform.python_version()
    )
    assert build == 1


async def test_every_exported_metric_has_samples(small_api: LiveServer) -> None:
    # liveScore is not planned: graphql-core resolves it inside the planned page (a loader)
    await small_api.graphql(
        "{ matches(first: 1) { edges { node { prediction { probaHome } liveScore { status } } } } }"
    )
    await small_api.graphql("{ matches(first: 999999) { totalCount } }")  # an operation's error
    samples = await scrape(small_api)
    names = {name for name, _ in samples}
    missing = {
        name
        for name in metrics.exported_names()
        if name not in names and f"{name}_bucket" not in names
    }
    assert not missing
    assert "process_resident_memory_bytes" in names
    assert not any(name.endswith("_created") for name in names)


async def test_source_gauges_follow_files_and_count_a_corrupt_replacement(
    serve: ServeFactory, tmp_path: Path
) -> None:
    frame = datasets.write_set(tmp_path, 50)
    orphans = pd.Index([90_001, 90_002, 90_003], name=frame.index.name)
    ids = frame.index.append(orphans)
    datasets.write(tmp_path, datasets.PREDICTIONS, datasets.predictions(ids, run_id="run-a"))
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    pred = PREDICTIONS.source
    before = await scrape(api)
    assert sample(before, "matchgraph_source_rows", source=pred) == 53
    assert 0 <= sample(before, "matchgraph_source_age_seconds", source=pred) < 600
    assert math.isnan(sample(before, "matchgraph_source_age_seconds", source=DRIFT.source))
    assert sample(before, "matchgraph_orphan_rows", source=pred) == 3
    assert sample(before, "matchgraph_orphan_rows", source=ODDS.source) == 0
    assert sample(before, "matchgraph_degraded", component=pred) == 0

    broken = tmp_path / "predictions" / ".broken.tmp"
    broken.write_bytes(b"PAR1 this is not parquet")
    broken.replace(tmp_path / datasets.PREDICTIONS)  # atomically, as the pipeline writes
    deadline = time.monotonic() + 10
    while sample(after := await scrape(api), "matchgraph_degraded", component=pred) != 1:
        assert time.monotonic() < deadline, "the corrupt file was never reported"
        await asyncio.sleep(0.1)
    errors = "matchgraph_source_errors_total"
    assert count(after, errors, source=pred) - count(before, errors, source=pred) == 1
    assert sample(after, "matchgraph_source_rows", source=pred) == 53  # last good stays


async def test_operation_names_are_capped(
    serve: ServeFactory, small_dir: Path, dead_redis_url: str
) -> None:
    limit = 5  # MATCHGRAPH_METRICS_MAX_OPERATION_NAMES
    capped = serve(data_dir=small_dir, redis_url=dead_redis_url, metrics_max_operation_names=limit)
    assert capped.app.state.operation_names.limit == limit
    before = await scrape(capped)
    async with capped.client() as client:
        for i in range(limit + 10):
            response = await client.post(
                "/graphql", json={"query": f"query CapName{i} {{ __typename }}"}
            )
            assert response.status_code == 200
        too_long = "L" * 65
        response = await client.post(
            "/graphql", json={"query": f"query {too_long} {{ __typename }}"}
        )
        assert response.json()["data"] == {"__typename": "Query"}
        await client.post("/graphql", json={"query": "{ __typename }"})
    after = await scrape(capped)
    # Every family labelled by operation name is capped alike (the other servers of this
    # process have their own names, none of them CapName*).
    for family in (
        "matchgraph_graphql_operations_total",
        "matchgraph_graphql_operation_duration_seconds_count",
        "matchgraph_graphql_operation_cost_count",
    ):
        names = {dict(labels)["operation_name"] for name, labels in after if name == family}
        assert {n for n in names if n.startswith("CapName")} == {
            f"CapName{i}" for i in range(limit)
        }, family
        assert too_long not in names
    operations = "matchgraph_graphql_operations_total"
    labels = {"operation_type": "query", "outcome": "ok"}
    others = count(after, operations, **labels, operation_name="other")
    assert others - count(before, operations, **labels, operation_name="other") == 11
    anonymous = count(after, operations, **labels, operation_name="anonymous")
    assert anonymous - count(before, operations, **labels, operation_name="anonymous") == 1


def test_operation_name_rules() -> None:
    names = metrics.OperationNames(limit=2)
    assert names.label(None) == names.label("") == "anonymous"
    assert names.label("x" * 64) == "x" * 64
    assert names.label("x" * 65) == "other"
    assert names.label("no such-name") == names.label("ünïcode") == "other"
    assert names.label("Second") == "Second"
    assert names.label("Third") == "other"
    assert names.label("Second") == "Second"


async def test_metrics_need_the_key_only_with_metrics_auth(
    serve: ServeFactory, small_dir: Path, dead_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = {"data_dir": small_dir, "redis_url": dead_redis_url, "header_token": KEY}
    open_metrics = serve(**keyed)
    locked = serve(**keyed, metrics_auth=True)
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(f"{open_metrics.url}/metrics")).status_code == 200
        assert (await client.post(f"{open_metrics.url}/graphql", json={})).status_code == 401
        refused = await client.get(f"{locked.url}/metrics")
        allowed = await client.get(f"{locked.url}/metrics", headers={"X-API-Key": KEY})
        assert (await client.get(f"{locked.url}/health")).status_code == 200
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert allowed.status_code == 200
    after = parse(allowed.text)
    assert count(after, "matchgraph_requests_total", method="GET", route="/metrics", status="401")
    assert count(after, "matchgraph_graphql_errors_total", code="UNAUTHENTICATED") >= 2
    monkeypatch.setenv("MATCHGRAPH_METRICS_AUTH", "true")
    assert Settings().metrics_auth is True


async def test_metrics_answer_while_redis_is_down(small_api: LiveServer) -> None:
    started = time.monotonic()
    samples = await scrape(small_api)
    assert time.monotonic() - started < 5
    assert math.isnan(sample(samples, "matchgraph_queue_depth", queue=SHORT_QUEUE))
    assert math.isnan(sample(samples, "matchgraph_workers_live"))
    assert math.isnan(sample(samples, "matchgraph_worker_live_predictions"))
    assert sample(samples, "matchgraph_degraded", component="redis") == 1
    assert sample(samples, "matchgraph_degraded", component="database") == 0


async def test_queue_depth_live_workers_and_enqueued_tasks_come_from_redis(
    serve: ServeFactory, small_dir: Path, own_redis: OwnRedis
) -> None:
    api = serve(data_dir=small_dir, redis_url=own_redis.url)
    before = await scrape(api)
    task = await api.data("mutation { predictMatch(matchId: 1, wait: false) { status } }")
    assert task["predictMatch"]["status"] in {"PENDING", "QUEUED"}
    after = await scrape(api)
    enqueued = "matchgraph_tasks_enqueued_total"
    kind = {"kind": "predict_match"}
    assert count(after, enqueued, **kind) - count(before, enqueued, **kind) == 1
    assert sample(after, "matchgraph_queue_depth", queue=SHORT_QUEUE) == 1  # no worker runs it
    assert sample(after, "matchgraph_queue_depth", queue=LONG_QUEUE) == 0
    assert sample(after, "matchgraph_workers_live") == 0

    client = redis.Redis.from_url(own_redis.url)
    try:
        beats = {
            SHORT_QUEUE: health_payload(
                complete=9, failed=0, ongoing=0, queued=1, predictions=9, model_calls=4
            ),
            LONG_QUEUE: health_payload(complete=0, failed=0, ongoing=0, queued=0),
        }
        for queue, beat in beats.items():
            client.set(health_key(NAMES, queue, "metrics-test"), beat, ex=60)
    finally:
        client.close()
    samples = await scrape(api)
    assert sample(samples, "matchgraph_workers_live") == 2
    assert sample(samples, "matchgraph_worker_live_predictions") == 9
    assert sample(samples, "matchgraph_worker_model_calls") == 4


async def test_websocket_connections_and_subscriptions_are_gauged(
    serve: ServeFactory, small_dir: Path, own_redis: OwnRedis
) -> None:
    api = serve(data_dir=small_dir, redis_url=own_redis.url)
    connections = ("matchgraph_websocket_connections", {"protocol": TRANSPORT_WS})
    name = api.app.state.operation_names.label("Follow")
    follow = {"operation_type": "subscription", "operation_name": name}
    before = await scrape(api)
    async with websockets.connect(api.ws_url, subprotocols=[TRANSPORT_WS]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription Follow { predictMatch(matchId: 2) { status } }"  # no worker: waits
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        assert json.loads(await ws.recv())["type"] == "next"
        during = await scrape(api)
        assert sample(during, connections[0], **connections[1]) == 1
        assert sample(during, "matchgraph_subscriptions_active") == 1
        # Timed once set up, while it still runs: its lifetime is not an operation's duration.
        timed = ("matchgraph_graphql_operation_duration_seconds_count", follow)
        assert count(during, timed[0], **timed[1]) - count(before, timed[0], **timed[1]) == 1
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
    deadline = time.monotonic() + 10
    while True:
        after = await scrape(api)
        open_connections = sample(after, connections[0], **connections[1])
        if sample(after, "matchgraph_subscriptions_active") == 0 and open_connections == 0:
            break
        assert time.monotonic() < deadline, "the connection was never counted out"
        await asyncio.sleep(0.05)
    operations = "matchgraph_graphql_operations_total"
    labels = {**follow, "outcome": "ok"}
    assert count(after, operations, **labels) - count(before, operations, **labels) == 1
    assert count(after, timed[0], **timed[1]) - count(before, timed[0], **timed[1]) == 1


# -- multi-process mode: a real `matchgraph serve --workers 2` ---------------------------


def _pids(directory: Path, prefix: str) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in directory.glob(f"{prefix}_*.db")}


@pytest.fixture
def two_workers(tmp_path: Path, small_dir: Path, dead_redis_url: str) -> Iterator[tuple[str, Path]]:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left by a previous run")
    (directory / "keep-me.txt").write_text("not prometheus-client's")
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "MATCHGRAPH_DATA_DIR": str(small_dir),
        "MATCHGRAPH_REDIS_URL": dead_redis_url,
        "MATCHGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'live.sqlite'}",
        "MATCHGRAPH_PORT": str(port),
    }
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "api.cli", "serve", "--workers", "2"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                ready = httpx.get(f"{url}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and len(_pids(directory, "gauge_max")) == 2:  # both imported the metrics
                break
            time.sleep(0.2)
        yield url, directory
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _scrape_sync(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10, headers={"Connection": "close"})
    assert response.status_code == 200, response.text
    return parse(response.text)


def test_multiprocess_mode_sums_the_workers(two_workers: tuple[str, Path]) -> None:
    url, directory = two_workers
    assert not (directory / "counter_999999.db").exists()  # emptied at start
    assert (directory / "keep-me.txt").exists()
    workers = _pids(directory, "gauge_max")
    posts = 16
    for _ in range(posts):  # a new connection each: the kernel spreads them over the workers
        response = httpx.post(
            f"{url}/graphql",
            json={"query": "query MultiCount { matches(first: 1) { totalCount } }"},
            headers={"Connection": "close"},
        )
        assert response.status_code == 200, response.text
    requests = ("matchgraph_requests_total", {"method": "POST", "route": "/graphql"})
    for _ in range(4):  # whichever worker answers, the totals are the same
        samples = _scrape_sync(url)
        assert sample(samples, requests[0], **requests[1], status="200") == posts
        operations = {"operation_type": "query", "operation_name": "MultiCount", "outcome": "ok"}
        executed = sample(samples, "matchgraph_graphql_operations_total", **operations)
        hits = sample(samples, "matchgraph_response_cache_requests_total", result="hit")
        assert 1 <= executed <= 2 and executed + hits == posts  # one cache per worker
        assert sample(samples, "matchgraph_requests_in_progress", route="/metrics") == 1
        build = {"version": VERSION, "python": platform.python_version()}
        assert sample(samples, "matchgraph_build_info", **build) == 1
        assert math.isnan(sample(samples, "matchgraph_queue_depth", queue=SHORT_QUEUE))
        assert sample(samples, "matchgraph_source_rows", source=PREDICTIONS.source) == 200
    assert "process_resident_memory_bytes" not in {name for name, _ in samples}
    # The merged exposition of the workers passes promtool too.
    check_metrics(httpx.get(f"{url}/metrics", timeout=10, headers={"Connection": "close"}).text)

    # A worker dies: uvicorn starts another, its live gauges go, its counts stay.
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while len(_pids(directory, "gauge_max") - workers) < 1:
        assert time.monotonic() < deadline, "uvicorn did not replace the dead worker"
        time.sleep(0.2)
    samples = _scrape_sync(url)
    assert victim not in _pids(directory, "gauge_livesum")
    assert victim not in _pids(directory, "gauge_livemostrecent")
    assert victim in _pids(directory, "counter")
    assert sample(samples, requests[0], **requests[1], status="200") == posts
    assert sample(samples, "matchgraph_requests_in_progress", route="/metrics") == 1
