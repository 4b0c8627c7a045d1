"""Start and stop the benchmarked systems: one uvicorn subprocess each, on its own loopback port.

Every system runs under the same uvicorn flags (uvloop, httptools, one worker,
no access log), so the only difference between them is the application.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from bench import REPO
from bench.baselines import DATA_DIR_ENV

HOST = "127.0.0.1"


class BenchError(RuntimeError):
    """The benchmark cannot produce a trustworthy figure."""


@dataclass(frozen=True)
class System:
    """How to run one application."""

    name: str
    app: str  # "module:factory"
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/ready"
    extra_args: tuple[str, ...] = ()
    cwd: Path | None = None  # where the process runs (another revision's tree); default REPO


@dataclass
class Server:
    """A running system."""

    system: System
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)  # just before the spawn

    @property
    def name(self) -> str:
        return self.system.name

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, kB."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process `pid` has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy so far (all processes, from /proc)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is in user already


GQLCORE = "ours-gqlcore"  # our API with MATCHGRAPH_PLANNER=false: every operation in graphql-core
BASE = "base"  # our API at another git revision (`--versions-base REV`)
PLANNER_ENV = "MATCHGRAPH_PLANNER"


def ours(
    data_dir: Path,
    *,
    cache_mb: float = 64.0,
    redis_url: str | None = None,
    planner: bool = True,
    name: str | None = None,
    tree: Path | None = None,
) -> System:
    """Our API, exactly as `matchgraph serve` builds it (on `redis_url` when given).

    `planner`: MATCHGRAPH_PLANNER, set explicitly either way so the harness's own
    environment cannot change what "ours" means (False: the `ours-gqlcore` system).
    `tree`: run another revision's files (see `scenarios.versions.checkout`); such a
    revision may not know the setting, which it then ignores.
    """
    env = {
        "MATCHGRAPH_DATA_DIR": str(data_dir),
        "MATCHGRAPH_RESPONSE_CACHE_MB": str(cache_mb),
        PLANNER_ENV: "true" if planner else "false",
    }
    if redis_url is not None:
        env["MATCHGRAPH_REDIS_URL"] = redis_url
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return System(
        name or ("ours" if planner else GQLCORE),
        "api.app:create_app",
        env=env,
        extra_args=("--ws", "websockets-sansio"),
        cwd=tree,
    )


def baseline(name: str, data_dir: Path, **env: str) -> System:
    return System(
        name,
        f"bench.baselines.{name}:create_app",
        env={DATA_DIR_ENV: str(data_dir), **env},
        ready_path="/ready",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Servers:
    """Owns every server it starts; stops them all on exit, errors and Ctrl-C included."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, Server] = {}

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def start(self, system: System) -> Server:
        """Spawn a system (does not wait for it; see `wait_ready`)."""
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            system.app,
            "--factory",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--lifespan",
            "on",
            "--log-level",
            "warning",
            "--no-access-log",
            *system.extra_args,
        ]
        return self.spawn(system, command, f"http://{HOST}:{port}")

    def spawn(self, system: System, command: list[str], url: str = "") -> Server:
        """Run any process under this owner (a Redis, a worker): logged, stopped on exit."""
        if system.name in self.running:
            raise BenchError(f"{system.name} is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{system.name}.log"
        env = {**os.environ, **system.env, "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log:
            started_at = time.monotonic()
            process = subprocess.Popen(
                command, cwd=system.cwd or REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        server = Server(system, url, process, log_path, started_at)
        self.running[system.name] = server
        return server

    def wait_ready(self, server: Server, timeout: float = 600.0, poll: float = 0.2) -> None:
        """Poll the readiness path until it answers 200; fail fast if the process died."""
        deadline = time.monotonic() + timeout
        url = server.url + server.system.ready_path
        with httpx.Client(timeout=5.0) as client:
            while True:
                if server.process.poll() is not None:
                    raise BenchError(
                        f"{server.name} exited with {server.process.returncode}:\n"
                        + server.log_tail()
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise BenchError(f"{server.name} not ready after {timeout:.0f} s")
                time.sleep(poll)

    def start_all(self, systems: list[System]) -> dict[str, Server]:
        started = [self.start(s) for s in systems]
        for server in started:
            self.wait_ready(server)
        return {s.name: s for s in started}

    def stop(self, name: str) -> None:
        server = self.running.pop(name, None)
        if server is None or server.process.poll() is not None:
            return
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)

    def stop_all(self) -> None:
        """Last started, first stopped (clients before the Redis they use)."""
        for name in reversed(list(self.running)):
            self.stop(name)
