"""README command one: `matchgraph up` brings the whole thing up on embedded defaults."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from graph.settings import Settings
from tests.fixtures.ports import free_port
from tests.fixtures.server import LiveServer


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid`: a child is listed under the thread that forked it
    (`up` restarts its worker from a watcher thread)."""
    children: list[int] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            children += [int(child) for child in path.read_text().split()]
    return children


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # exited, not yet reaped by its (gone) parent's reaper


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_up_generates_data_starts_redis_worker_and_api(
    tmp_path: Path, stop: signal.Signals
) -> None:
    port, redis_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        **os.environ,
        "MATCHGRAPH_DATA_DIR": str(tmp_path / "data"),
        "MATCHGRAPH_REDIS_URL": redis_url,
        "MATCHGRAPH_PORT": str(port),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "up"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    children: list[int] = []
    try:
        _wait_ready(url, process, log)
        said = f"Redis: started its own at {redis_url}, namespace matchgraph (stops with `up`)"
        assert said in log.read_text(), log.read_text()[-3000:]
        api = LiveServer(url=url, settings=None, app=None)  # type: ignore[arg-type]
        page = await api.data(
            "{ matches(first: 1, futureOnly: true) { edges { node { matchId } } } }"
        )
        match_id = page["matches"]["edges"][0]["node"]["matchId"]
        # The API is ready before its worker has loaded the models (seconds, more on a busy
        # machine); `predictMatch(wait: true)` waits MATCHGRAPH_SYNC_TIMEOUT at most, so a
        # user (and this test) first waits for a live worker.
        deadline = time.monotonic() + 120
        while not any(w["alive"] for w in (await api.data("{ workers { alive } }"))["workers"]):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        query = "mutation($m: Int!) { predictMatch(matchId: $m, wait: true) { status } }"
        task = (await api.data(query, {"m": match_id}))["predictMatch"]
        assert task["status"] == "COMPLETE", log.read_text()[-3000:]
        children = _children(process.pid)  # its Redis and its worker
        assert len(children) == 2, children
    finally:
        process.send_signal(stop)
        process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while not all(_gone(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(child) for child in children), "`up` must stop what it started"
    assert (tmp_path / "data" / "predictions" / "match_features.parquet").exists()
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5)
    try:
        stopped = False
        try:
            client.ping()
        except redis.ConnectionError:
            stopped = True
        assert stopped, "the Redis that `up` started must stop with it"
    finally:
        client.close()


def _worker_child(pid: int) -> int | None:
    """The `matchgraph worker` process among `pid`'s children, if exactly one runs."""
    found = []
    for child in _children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"worker" in command and not _gone(child):
            found.append(child)
    return found[0] if len(found) == 1 else None


async def test_up_restarts_a_worker_that_dies(
    tmp_path: Path, demo_dir: Path, demo_settings: Settings
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MATCHGRAPH_DATA_DIR": str(demo_dir),  # data and models exist: nothing to generate
        "MLFLOW_TRACKING_URI": demo_settings.effective_mlflow_uri,
        "MATCHGRAPH_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "MATCHGRAPH_PORT": str(port),
    }
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "up"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    api = LiveServer(url=url, settings=None, app=None)  # type: ignore[arg-type]
    predict = "mutation($m: Int!) { predictMatch(matchId: $m, wait: true) { status } }"
    children: list[int] = []
    try:
        _wait_ready(url, process, log)
        page = await api.data(
            "{ matches(first: 1, futureOnly: true) { edges { node { matchId } } } }"
        )
        match_id = page["matches"]["edges"][0]["node"]["matchId"]
        first = _worker_child(process.pid)
        assert first is not None, _children(process.pid)
        os.kill(first, signal.SIGKILL)

        deadline = time.monotonic() + 60
        while (second := _worker_child(process.pid)) in (None, first):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 120  # the new worker loads its models first
        while (await api.data(predict, {"m": match_id}))["predictMatch"]["status"] != "COMPLETE":
            assert time.monotonic() < deadline, log.read_text()[-3000:]
        text = log.read_text()
        assert f"worker (pid {first}) was killed by SIGKILL" in text, text[-3000:]
        assert f"worker restarted (pid {second})" in text, text[-3000:]
        children = _children(process.pid)
        assert second in children and len(children) == 2, children  # Redis and the new worker
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while not all(_gone(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(child) for child in children), "`up` must stop what it (re)started"
