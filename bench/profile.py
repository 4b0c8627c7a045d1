"""`python -m bench.profile`: where our API spends a cold request, by cProfile.

    python -m bench.profile [--matches 20000] [--query cards|page] [--requests 20] [--no-planner]

Runs our API (wrapped by bench.profiled) on the demo data, sends sequential
response-cache misses, and prints the top functions by own time and by
cumulative time, plus own time grouped by package. cProfile inflates
call-heavy code, so read shares, not absolute times.
"""

from __future__ import annotations

import argparse
import io
import pstats
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench import BENCH_DIR, REPO
from bench.client import check_graphql, fresh_nonce
from bench.data import ensure_demo, facts
from bench.profiled import CONTROL_PATH
from bench.queries import CARDS, CARDS_SIZE, PAGE, PAGE_SIZE, graphql_payload
from bench.systems import Servers, System, ours

AREAS = (
    ("matchgraph graph/", f"{REPO}/graph/"),
    ("matchgraph api/", f"{REPO}/api/"),
    ("strawberry", "/strawberry/"),
    ("graphql-core", "/graphql/"),
    ("aiodataloader", "/aiodataloader"),
    ("starlette", "/starlette/"),
    ("uvicorn", "/uvicorn/"),
    ("pandas", "/pandas/"),
    ("numpy", "/numpy/"),
    ("asyncio", "/asyncio/"),
    ("cross_web", "/cross_web/"),
)


def area(filename: str, name: str) -> str:
    if filename == "~":  # a builtin: name it by itself
        return "builtin " + re.sub(r"^built-in method |^method ", "", name.strip("{}<>"))[:40]
    for label, needle in AREAS:
        if needle in filename:
            return label
    return "other python"


def by_area(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, tottime, _, _) in raw.items():
        totals[area(filename, name)] += tottime
    return sorted(totals.items(), key=lambda item: -item[1])


def report(path: Path, top: int, requests: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    out.write(f"profiled time {total:.3f} s over {requests} requests\n\nown time by package:\n")
    for label, seconds in by_area(stats)[:15]:
        out.write(f"  {label:<34}{seconds:>8.3f} s {100 * seconds / total:>5.1f} %\n")
    stats.strip_dirs()
    out.write("\ntop functions by own time:\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write("\ntop functions by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--query", choices=("cards", "page"), default="cards")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--no-planner", action="store_true", help="MATCHGRAPH_PLANNER=false (graphql-core)"
    )
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work")
    args = parser.parse_args(argv)

    work_dir = args.work_dir.resolve()
    data_dir = ensure_demo(work_dir, args.matches, args.seed)
    data = facts(data_dir)
    query, first = (CARDS, data.cards(CARDS_SIZE)) if args.query == "cards" else (PAGE, PAGE_SIZE)
    out = work_dir / f"profile-{args.query}.prof"
    base = ours(data_dir, planner=not args.no_planner)
    system = System(
        "ours-profiled",
        "bench.profiled:create_app",
        env={**base.env, "BENCH_PROFILE_OUT": str(out)},
        extra_args=base.extra_args,
    )
    with Servers(work_dir / "logs") as servers:
        server = servers.start(system)
        servers.wait_ready(server)
        with httpx.Client(base_url=server.url, timeout=300) as client:

            def cold() -> float:
                started = time.perf_counter()
                response = client.post(
                    "/graphql", json=graphql_payload(query, first, fresh_nonce())
                )
                elapsed = time.perf_counter() - started
                check_graphql(response, "profile", edges=first, cache="miss")
                return elapsed

            for _ in range(3):
                cold()
            client.post(CONTROL_PATH, params={"action": "reset"})
            times = [cold() for _ in range(args.requests)]
            client.post(CONTROL_PATH, params={"action": "dump"})
    times.sort()
    print(
        f"{args.query}: first {first}, {args.requests} cold requests under cProfile, "
        f"median {1000 * times[len(times) // 2]:.0f} ms\n"
    )
    print(report(out, args.top, args.requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
