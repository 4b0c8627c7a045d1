"""scale (formerly `memory`): our API on catalogues of N matches, one size after another.

For each size (20k and 100k, 500k with `--full`), our API starts ALONE on
that data set (nothing else of the harness runs meanwhile) and we read:

- ready time: from just before the process is spawned to the first 200 of
  `/ready` (polled every 50 ms), i.e. interpreter start, imports, snapshot
  loading;
- VmRSS from /proc: at ready, and after one 50-match page with every
  loader-backed field (so everything lazy has happened): the latter is
  "RSS after load", compared with the Arrow size of the data;
- Arrow size: for each of the four files the API loads, `pyarrow.Table.nbytes`
  of the file read whole with pyarrow's defaults (`pyarrow.parquet.read_table`
  for match_features, predictions and fonbet_odds, `pyarrow.csv.read_csv` for
  roi_by_region.csv), summed (`bench.data.arrow_bytes`);
- page time: `matches(first: 100 / 1000 / 5000)` cards (bench.queries.CARDS),
  cold (a fresh nonce each time: a response-cache miss), one untimed request
  then `reps` timed ones per size, median; per card = median / page size, and
  the marginal cost per card between the smallest and the largest page.

Then the same API with MATCHGRAPH_PLANNER=false (`ours-gqlcore`) is started
alone on the same data for its ready time, RSS and page times (`--no-scale-gqlcore`
skips it). An API over an empty data dir gives the interpreter + libraries floor.
Page times are read after the RSS, so the response cache (which fills with
every cold page) does not count in it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from bench.client import check_graphql, graphql_probe, post_graphql
from bench.data import arrow_bytes, ensure_demo, facts
from bench.queries import BATCHES, CARDS
from bench.stats import percentile, ratio
from bench.systems import GQLCORE, Server, Servers, ours
from graph.sources.tables import CATALOG

MB = 2**20
PAGE_SIZES = (100, 1000, 5000)
AIMS = {"rss/arrow": 2.0}


def _page_times(server: Server, sizes: list[int], reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=server.url, timeout=300.0) as client:
        for n in sizes:
            probe = graphql_probe(server.name, server, CARDS, n, edges=n, fresh=True, cache="miss")
            probe.timed(client)  # untimed: the first sight of this page size
            samples = [probe.timed(client)[0] * 1000 for _ in range(reps)]
            median = percentile(samples, 50)
            out[str(n)] = {
                "median_ms": median,
                "min_ms": min(samples),
                "us_per_card": median * 1000 / n,
            }
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        slope = (out[str(high)]["median_ms"] - out[str(low)]["median_ms"]) / (high - low)
        out["marginal_us_per_card"] = slope * 1000
    return out


def _measure(
    servers: Servers, data_dir: Path, *, planner: bool, sizes: list[int], reps: int
) -> dict[str, Any]:
    server = servers.start(ours(data_dir, planner=planner))
    try:
        servers.wait_ready(server, poll=0.05)
        ready_s = time.monotonic() - server.started_at
        at_ready = server.rss_kb()
        n = min(50, facts(data_dir).catalogue) if (data_dir / CATALOG.bucket).exists() else 0
        if n:
            check_graphql(post_graphql(server, BATCHES, n), "scale page", edges=n)
        rss = server.rss_kb()
        return {
            "ready_s": ready_s,
            "ready_rss_kb": at_ready["VmRSS"],
            "rss_kb": rss["VmRSS"],
            "peak_rss_kb": rss["VmHWM"],
            "pages": _page_times(server, sizes, reps) if n and sizes else {},
        }
    finally:
        servers.stop(server.name)


def run(
    work_dir: Path,
    sizes: list[int],
    seed: int,
    known: dict[int, Path] | None = None,
    *,
    reps: int = 7,
    gqlcore: bool = True,
) -> dict[str, Any]:
    """`known`: data dirs this run already serves, reused as they are."""
    known = known or {}
    # Generate before measuring.
    data_dirs = {n: known.get(n) or ensure_demo(work_dir, n, seed) for n in sizes}
    empty = work_dir / "empty-data"
    empty.mkdir(parents=True, exist_ok=True)
    with Servers(work_dir / "logs" / "scale") as servers:
        floor = _measure(servers, empty, planner=True, sizes=[], reps=0)
        floor_kb = floor["rss_kb"]
        rows: dict[str, Any] = {}
        for n, data_dir in data_dirs.items():
            catalogue = facts(data_dir).catalogue
            page_sizes = sorted({min(size, catalogue) for size in PAGE_SIZES})
            on = _measure(servers, data_dir, planner=True, sizes=page_sizes, reps=reps)
            off = (
                _measure(servers, data_dir, planner=False, sizes=page_sizes, reps=reps)
                if gqlcore
                else None
            )
            tables = arrow_bytes(data_dir)
            arrow = sum(tables.values())
            rss_bytes = on["rss_kb"] * 1024
            rows[str(n)] = {
                "ready_s": on["ready_s"],
                "ready_rss_mb": on["ready_rss_kb"] * 1024 / MB,
                "rss_mb": rss_bytes / MB,
                "peak_rss_mb": on["peak_rss_kb"] * 1024 / MB,
                "arrow_mb": arrow / MB,
                "arrow_tables_bytes": tables,
                "rss/arrow": ratio(rss_bytes, arrow),
                "data_rss/arrow": ratio(rss_bytes - floor_kb * 1024, arrow),
                "pages": on["pages"],
                GQLCORE: None
                if off is None
                else {
                    "ready_s": off["ready_s"],
                    "rss_mb": off["rss_kb"] * 1024 / MB,
                    "pages": off["pages"],
                },
            }
    return {
        "empty_rss_mb": floor_kb * 1024 / MB,
        "empty_ready_s": floor["ready_s"],
        "reps": reps,
        "aims": AIMS,
        "sizes": rows,
    }


def render(r: dict[str, Any]) -> list[str]:
    lines = [
        f"scale: our API alone on N matches (empty data dir: {r['empty_rss_mb']:.0f} MB,"
        f" ready in {r['empty_ready_s']:.1f} s); Arrow = sum of pyarrow Table.nbytes of the"
        " four files",
        f"  {'matches':<9}{'ready s':>8}{'RSS MB':>8}{'peak MB':>9}{'Arrow MB':>10}"
        f"{'RSS/Arrow':>11}{'(RSS-empty)/Arrow':>19}   aim RSS/Arrow <= {r['aims']['rss/arrow']:g}",
    ]
    for n, s in r["sizes"].items():
        lines.append(
            f"  {n:<9}{s['ready_s']:>8.1f}{s['rss_mb']:>8.0f}{s['peak_rss_mb']:>9.0f}"
            f"{s['arrow_mb']:>10.1f}{s['rss/arrow']:>11.2f}{s['data_rss/arrow']:>19.2f}"
        )
    lines.append(
        f"  page time, cold, median of {r['reps']}: ms per page (us per card); marginal: us"
        " per card between the smallest and largest page"
    )
    for n, s in r["sizes"].items():
        runs = [("planner on", s["pages"])]
        if s.get(GQLCORE) is not None:
            runs.append(("planner off", s[GQLCORE]["pages"]))
        for label, pages in runs:
            cells = [
                f"first {size}: {page['median_ms']:>7.1f} ({page['us_per_card']:>5.1f})"
                for size, page in pages.items()
                if size != "marginal_us_per_card"
            ]
            if "marginal_us_per_card" in pages:
                cells.append(f"marginal {pages['marginal_us_per_card']:.1f}")
            lines.append(f"  {n:<9}{label:<13}" + "   ".join(cells))
    return lines
