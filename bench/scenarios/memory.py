"""memory: our API's resident memory after loading N matches, against the Arrow size of the data.

For each size, our API starts alone on that data set, answers one page with
every field (so everything lazy has happened), and its VmRSS is read from
/proc. An API over an empty data dir gives the interpreter + libraries floor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.client import check_graphql, post_graphql
from bench.data import arrow_bytes, ensure_demo, facts
from bench.queries import BATCHES
from bench.stats import ratio
from bench.systems import Servers, ours
from graph.sources.tables import CATALOG

MB = 2**20


def _measure(servers: Servers, data_dir: Path) -> dict[str, int]:
    server = servers.start(ours(data_dir))
    try:
        servers.wait_ready(server)
        n = min(50, facts(data_dir).catalogue) if (data_dir / CATALOG.bucket).exists() else 0
        if n:
            check_graphql(post_graphql(server, BATCHES, n), "memory page", edges=n)
        return server.rss_kb()
    finally:
        servers.stop(server.name)


def run(
    work_dir: Path, sizes: list[int], seed: int, known: dict[int, Path] | None = None
) -> dict[str, Any]:
    """`known`: data dirs this run already serves, reused as they are."""
    known = known or {}
    # Generate before measuring.
    data_dirs = {n: known.get(n) or ensure_demo(work_dir, n, seed) for n in sizes}
    empty = work_dir / "empty-data"
    empty.mkdir(parents=True, exist_ok=True)
    with Servers(work_dir / "logs" / "memory") as servers:
        floor_kb = _measure(servers, empty)["VmRSS"]
        rows: dict[str, Any] = {}
        for n, data_dir in data_dirs.items():
            rss = _measure(servers, data_dir)
            tables = arrow_bytes(data_dir)
            arrow = sum(tables.values())
            rss_bytes = rss["VmRSS"] * 1024
            rows[str(n)] = {
                "rss_mb": rss_bytes / MB,
                "peak_rss_mb": rss["VmHWM"] * 1024 / MB,
                "arrow_mb": arrow / MB,
                "arrow_tables_bytes": tables,
                "rss/arrow": ratio(rss_bytes, arrow),
                "data_rss/arrow": ratio(rss_bytes - floor_kb * 1024, arrow),
            }
    return {"empty_rss_mb": floor_kb * 1024 / MB, "sizes": rows}
