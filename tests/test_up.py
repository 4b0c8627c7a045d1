"""README command one: `matchgraph up` brings the whole thing up on embedded defaults."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.fixtures.server import LiveServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


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
    port, redis_port = _free_port(), _free_port()
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
        api = LiveServer(url=url, settings=None, app=None)  # type: ignore[arg-type]
        page = await api.data(
            "{ matches(first: 1, futureOnly: true) { edges { node { matchId } } } }"
        )
        match_id = page["matches"]["edges"][0]["node"]["matchId"]
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
