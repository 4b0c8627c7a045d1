"""`python -m bench.run`: every system side by side on one data set; a table and a results JSON.

    python -m bench.run [--matches 20000] [--seed 42] [--scenarios cards,page,batches,hol,scale]
                        [--quick] [--full]
    python -m bench.run --scenarios hol [--hol-seconds 20] [--hol-clients 4]
    python -m bench.run --scenarios live [--live-jobs 200] [--live-seconds 15]
    python -m bench.run --scenarios versions --versions-base REV [--versions-clients 20]
    python -m bench.run --scenarios push [--quick]     # liveScoreUpdates: commit -> client
    python -m bench.run --scenarios surface [--page-seconds 20]  # keys, rate limit, APQ
    python -m bench.run --scenarios analytics [--full] [--analytics-sizes 20000,500000]
    python -m bench.run --scenarios cards,hol --versions-base REV   # + our API at REV

Systems (each its own uvicorn process on loopback): ours (api.app, planner on),
ours-gqlcore (the same with MATCHGRAPH_PLANNER=false), raw (precomputed bytes
of our own responses), rest (the old `/cards`), naive (a first Strawberry
port), base (our API at `--versions-base REV`, cards and hol only); for
`live`, our API + worker against arq-default on a Redis of the harness's own.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from bench import BENCH_DIR
from bench.baselines.raw import RESPONSES_ENV, save_responses
from bench.client import check_graphql, post_graphql
from bench.data import DataFacts, ensure_demo, facts, made_by, middle_match_id
from bench.load import GENERATORS
from bench.queries import CARDS, CARDS_SIZE, PAGE, PAGE_SIZE, graphql_payload
from bench.report import machine, table, utc_now, write
from bench.scenarios import (
    analytics,
    batches,
    cards,
    hol,
    live,
    page,
    push,
    scale,
    surface,
    versions,
)
from bench.systems import BASE, GQLCORE, BenchError, Server, Servers, baseline, ours

SCENARIOS = (
    "cards",
    "page",
    "batches",
    "hol",
    "scale",
    "analytics",
    "live",
    "versions",
    "push",
    "surface",
)
ALIASES = {"memory": "scale"}  # the scale scenario grew out of `memory`
# `live` takes about 3.5 minutes (arq-default needs ~0.5 s a job): asked for by name, like
# `push` (it runs a redis-server of its own).
DEFAULT_SCENARIOS = ("cards", "page", "batches", "hol", "scale", "analytics")
HTTP_SCENARIOS = {"cards", "page", "batches", "hol"}  # on the servers run_http starts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--matches", type=int, default=20_000, help="demo data size")
    parser.add_argument("--seed", type=int, default=42, help="demo data seed")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"comma-separated, of {','.join(SCENARIOS)} (default: all but live)",
    )
    parser.add_argument("--quick", action="store_true", help="short runs (smoke checks)")
    parser.add_argument(
        "--full", action="store_true", help="scale and analytics also at 500,000 matches"
    )
    parser.add_argument("--analytics-sizes", help="comma-separated match counts for analytics")
    parser.add_argument("--iterations", type=int, help="cards requests per probe (>= 15)")
    parser.add_argument("--page-seconds", type=int, help="page load per system, seconds")
    parser.add_argument(
        "--load-generator", choices=GENERATORS, default="asyncio", help="for the page scenario"
    )
    parser.add_argument(
        "--scale-sizes", "--memory-sizes", help="comma-separated match counts for scale"
    )
    parser.add_argument(
        "--no-scale-gqlcore",
        dest="scale_gqlcore",
        action="store_false",
        help="scale: do not also measure the API with MATCHGRAPH_PLANNER=false",
    )
    parser.add_argument("--hol-seconds", type=float, help="hol: loaded seconds per system")
    parser.add_argument(
        "--hol-clients", type=int, default=hol.CLIENTS, help="hol: background clients"
    )
    parser.add_argument("--live-jobs", type=int, help="live: sequential jobs per system")
    parser.add_argument("--live-seconds", type=int, help="live: concurrent load per system, s")
    parser.add_argument(
        "--live-clients", type=int, default=live.CLIENTS, help="live: concurrent clients"
    )
    parser.add_argument(
        "--versions-base",
        help="a git revision: versions compares the live path with it; with cards or hol, "
        "our API at that revision runs beside ours as system `base`",
    )
    parser.add_argument(
        "--versions-clients", type=int, default=versions.CLIENTS, help="versions: clients"
    )
    parser.add_argument("--data-dir", type=Path, help="serve these files instead of demo data")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    return parser


def _analytics_sizes(args: argparse.Namespace) -> list[int]:
    if args.analytics_sizes:
        return [int(s) for s in args.analytics_sizes.split(",")]
    if args.quick:
        return [args.matches]
    return [20_000, *([500_000] if args.full else [])]


def _options(args: argparse.Namespace) -> dict[str, Any]:
    scenarios = [ALIASES.get(s.strip(), s.strip()) for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")
    if "versions" in scenarios and not args.versions_base:
        raise SystemExit("the versions scenario needs --versions-base REV")
    if args.scale_sizes:
        sizes = [int(s) for s in args.scale_sizes.split(",")]
    elif args.quick:
        sizes = [args.matches]
    else:
        sizes = [20_000, 100_000, *([500_000] if args.full else [])]
    return {
        "scenarios": scenarios,
        "iterations": args.iterations or (15 if args.quick else 25),
        "warmup": 2 if args.quick else 3,
        "page_seconds": args.page_seconds or (5 if args.quick else 20),
        "scale_sizes": sizes,
        "scale_reps": 3 if args.quick else 7,
        "scale_gqlcore": args.scale_gqlcore,
        "analytics_sizes": _analytics_sizes(args),
        "analytics_reps": 3 if args.quick else 7,
        "hol_seconds": args.hol_seconds or (4.0 if args.quick else 20.0),
        "hol_clients": args.hol_clients,
        "hol_idle_seconds": 1.0 if args.quick else 2.0,
        "quick": args.quick,
        "load_generator": args.load_generator,
        "live_jobs": args.live_jobs or (30 if args.quick else live.SEQUENTIAL_JOBS),
        "live_seconds": args.live_seconds or (4 if args.quick else 15),
        "live_clients": args.live_clients,
        "versions_base": args.versions_base,
        "versions_clients": args.versions_clients,
    }


def capture_raw(server: Server, data: DataFacts, path: Path) -> Path:
    """Our API's answers to the benchmarked requests, for the raw baseline to replay."""
    pairs = []
    for query, first in ((CARDS, data.cards(CARDS_SIZE)), (PAGE, min(PAGE_SIZE, data.catalogue))):
        response = post_graphql(server, query, first)
        check_graphql(response, "capture for raw", edges=first)
        pairs.append((graphql_payload(query, first), response.content))
    save_responses(path, pairs)
    return path


def verify_baselines(servers: dict[str, Server], data: DataFacts) -> dict[str, bool]:
    """raw must replay our bytes exactly; naive, ours-gqlcore and base should serve the
    same data as ours (a difference is reported; the comparison still stands)."""
    first = min(PAGE_SIZE, data.catalogue)
    ours_page = post_graphql(servers["ours"], PAGE, first)
    checks: dict[str, bool] = {}
    if "raw" in servers:
        raw_page = post_graphql(servers["raw"], PAGE, first)
        if raw_page.content != ours_page.content:
            raise BenchError("raw does not replay our API's response bytes")
        checks["raw_replays_ours"] = True
    ours_data = check_graphql(ours_page, "ours page", edges=first)["data"]
    for name in ("naive", GQLCORE, BASE):
        if name not in servers:
            continue
        other = check_graphql(post_graphql(servers[name], PAGE, first), f"{name} page", edges=first)
        same = other["data"] == ours_data
        if not same:
            print(
                f"warning: {name}'s page differs from ours (the comparison still stands)",
                flush=True,
            )
        checks[f"{name.replace('-', '_')}_data_equals_ours"] = same
    if GQLCORE in servers:  # the planner against graphql-core on the cards page, too
        n = data.cards(CARDS_SIZE)
        mine = check_graphql(post_graphql(servers["ours"], CARDS, n), "ours cards", edges=n)
        core = post_graphql(servers[GQLCORE], CARDS, n)
        same = mine["data"] == check_graphql(core, f"{GQLCORE} cards", edges=n)["data"]
        if not same:
            print(f"warning: {GQLCORE}'s cards differ from ours", flush=True)
        checks["ours_gqlcore_cards_equal_ours"] = same
    return checks


def run_http(
    data_dir: Path, data: DataFacts, opts: dict[str, Any], work_dir: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    wanted = opts["scenarios"]
    with Servers(work_dir / "logs") as servers:
        api = servers.start(ours(data_dir))
        needs_baselines = "cards" in wanted or "page" in wanted
        compares = "cards" in wanted or "hol" in wanted
        others = [
            servers.start(baseline(n, data_dir)) for n in ("rest", "naive") if needs_baselines
        ]
        if compares:
            others.append(servers.start(ours(data_dir, planner=False)))
            if opts["versions_base"]:
                commit, tree = versions.checkout(opts["versions_base"], work_dir)
                out["base"] = {"revision": opts["versions_base"], "commit": commit}
                others.append(servers.start(ours(data_dir, name=BASE, tree=tree)))
        servers.wait_ready(api)
        if needs_baselines:
            raw_file = capture_raw(api, data, work_dir / "raw" / f"{data_dir.name}.json")
            others.append(
                servers.start(baseline("raw", data_dir, **{RESPONSES_ENV: str(raw_file)}))
            )
        for server in others:
            servers.wait_ready(server)
        if len(servers.running) > 1:
            out["checks"] = verify_baselines(dict(servers.running), data)
        running = dict(servers.running)
        out["pids"] = {name: s.pid for name, s in running.items()}
        if "cards" in wanted:
            print("cards ...", flush=True)
            out["cards"] = cards.run(
                running, data, iterations=opts["iterations"], warmup=opts["warmup"]
            )
        if "page" in wanted:
            print("page ...", flush=True)
            out["page"] = page.run(
                running,
                n=PAGE_SIZE,
                seconds=opts["page_seconds"],
                work_dir=work_dir,
                generator=opts["load_generator"],
            )
        if "hol" in wanted:
            print("hol ...", flush=True)
            out["hol"] = hol.run(
                running,
                cards=data.cards(CARDS_SIZE),
                match_id=middle_match_id(data_dir),
                seconds=opts["hol_seconds"],
                clients=opts["hol_clients"],
                idle_seconds=opts["hol_idle_seconds"],
                work_dir=work_dir,
            )
        if "batches" in wanted:
            print("batches ...", flush=True)
            out["batches"] = batches.run(running, data)
    return out


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    opts = _options(args)
    work_dir: Path = args.work_dir.resolve()
    signal.signal(signal.SIGTERM, _interrupt)  # servers are stopped on the way out
    started = time.monotonic()
    results: dict[str, Any] = {
        "started_at": utc_now(),
        "machine": machine(),
        "options": opts,
        "data": {"matches": args.matches, "seed": args.seed},
        "scenarios": {},
    }
    try:
        data_dir = args.data_dir.resolve() if args.data_dir else None
        data_dir = data_dir or ensure_demo(work_dir, args.matches, args.seed)
        data = facts(data_dir)
        results["data"].update(dir=str(data_dir), generator=made_by(data_dir), **asdict(data))
        if args.data_dir:
            results["data"]["matches"] = data.catalogue
        if HTTP_SCENARIOS & set(opts["scenarios"]):
            http = run_http(data_dir, data, opts, work_dir)
            results["checks"] = http.pop("checks", {})
            results["pids"] = http.pop("pids", {})
            if "base" in http:
                results["base"] = http.pop("base")
            results["scenarios"].update(http)
        if "live" in opts["scenarios"]:
            print("live ...", flush=True)
            results["scenarios"]["live"] = live.run(
                data_dir,
                work_dir,
                jobs=opts["live_jobs"],
                clients=opts["live_clients"],
                seconds=opts["live_seconds"],
                warmup_jobs=3 if opts["quick"] else live.WARMUP_JOBS,
            )
        if "surface" in opts["scenarios"]:
            print("surface ...", flush=True)
            results["scenarios"]["surface"] = surface.run(
                data_dir,
                work_dir,
                match_id=middle_match_id(data_dir),
                seconds=opts["page_seconds"],
            )
        if "push" in opts["scenarios"]:
            print("push ...", flush=True)
            results["scenarios"]["push"] = push.run(data_dir, work_dir, quick=opts["quick"])
        if "versions" in opts["scenarios"]:
            print(f"versions: HEAD against {opts['versions_base']} ...", flush=True)
            results["scenarios"]["versions"] = versions.run(
                data_dir,
                work_dir,
                base=opts["versions_base"],
                jobs=opts["live_jobs"],
                clients=opts["versions_clients"],
                seconds=opts["live_seconds"],
                warmup_jobs=3 if opts["quick"] else live.WARMUP_JOBS,
            )
        if "scale" in opts["scenarios"]:
            print("scale ...", flush=True)
            results["scenarios"]["scale"] = scale.run(
                work_dir,
                opts["scale_sizes"],
                args.seed,
                known={data.catalogue: data_dir},
                reps=opts["scale_reps"],
                gqlcore=opts["scale_gqlcore"],
            )
        if "analytics" in opts["scenarios"]:
            print("analytics ...", flush=True)
            results["scenarios"]["analytics"] = analytics.run(
                work_dir,
                opts["analytics_sizes"],
                args.seed,
                known={data.catalogue: data_dir},
                reps=opts["analytics_reps"],
            )
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    path = write(results, args.results_dir)
    print(table(results))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
