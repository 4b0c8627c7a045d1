"""Process health: what /health and `Query.health` report."""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

import strawberry

from graph.sources.snapshots import Sources

try:
    VERSION = version("matchgraph")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0.0.0+local"


@strawberry.type(description="Health of the API process that answered.")
class Health:
    status: str = strawberry.field(description="`ok`, or `degraded` when a part is failing.")
    version: str = strawberry.field(description="Service version.")
    pid: int = strawberry.field(description="Process id of the API worker.")
    memory_mb: float = strawberry.field(description="Resident memory of that process, MB.")
    degraded: list[str] = strawberry.field(description="What is degraded, for people.")
    data_version: str | None = strawberry.field(description="Data version in service.")


def memory_mb() -> float:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as handle:
            pages = int(handle.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


class HealthCheck(Protocol):
    """A dependency that can say what is wrong with it (Redis, the database, ...)."""

    def problems(self) -> list[str]: ...


def degraded_parts(sources: Sources, checks: Sequence[HealthCheck] = ()) -> list[str]:
    failing = [f"{s.source}: {s.error}" for s in sources.status() if s.error]
    return failing + [problem for check in checks for problem in check.problems()]


def current_health(sources: Sources, checks: Sequence[HealthCheck] = ()) -> Health:
    degraded = degraded_parts(sources, checks)
    return Health(
        status="degraded" if degraded else "ok",
        version=VERSION,
        pid=os.getpid(),
        memory_mb=memory_mb(),
        degraded=degraded,
        data_version=sources.version,
    )
