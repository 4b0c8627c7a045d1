"""page: the first 50 cards with region ROI under 32 concurrent clients, requests/s and p99.

Systems take turns in short bursts (rotating order) until each has had the
whole duration; the load generator runs in its own process (see bench.load),
and each burst's connections are warmed up for a second before timing.
Percentiles are over every sample of every burst of a system.
ours hit: the identical request repeated (response cache); ours miss: a fresh
nonce per request, so every request executes. rest serves the same 50 cards
(`/cards?limit=50`, no ROI: the old service had none in a card).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.client import check_graphql, post_graphql
from bench.load import NONCE, LoadSpec, run_load
from bench.queries import PAGE, PAGE_SIZE, graphql_payload, rest_cards_path
from bench.stats import percentile, ratio
from bench.systems import Server

CONNECTIONS = 32
WARMUP_SECONDS = 1
COMPARISONS = (
    ("ours hit", "raw"),
    ("ours hit", "rest"),
    ("ours miss", "raw"),
    ("ours miss", "rest"),
    ("ours miss", "naive"),
)


def specs(servers: dict[str, Server], n: int) -> list[LoadSpec]:
    fixed = json.dumps(graphql_payload(PAGE, n))
    varying = json.dumps(graphql_payload(PAGE, n, NONCE))
    token = '"matchId":'

    def graphql(label: str, server: str, body: str, cache: str = "") -> LoadSpec:
        return LoadSpec(label, servers[server].url, "POST", "/graphql", body, token, n, cache)

    return [
        graphql("ours hit", "ours", fixed, "hit"),
        graphql("ours miss", "ours", varying, "miss"),
        graphql("raw", "raw", fixed),
        LoadSpec("rest", servers["rest"].url, "GET", rest_cards_path(n), None, '"match_id":', n),
        graphql("naive", "naive", varying),
    ]


def run(
    servers: dict[str, Server],
    *,
    n: int,
    seconds: int,
    work_dir: Path,
    generator: str = "asyncio",
) -> dict[str, Any]:
    plan = specs(servers, min(n, PAGE_SIZE))
    # "ours hit" expects a hit from its first request on.
    check_graphql(
        post_graphql(servers["ours"], PAGE, plan[0].expect), "prime ours", edges=plan[0].expect
    )
    rounds = max(2, seconds // 5)
    burst = max(1, round(seconds / rounds))
    warmup = WARMUP_SECONDS if generator == "asyncio" else 0
    bursts = rotating_bursts(
        plan,
        servers.values(),
        rounds=rounds,
        burst=burst,
        warmup=warmup,
        work_dir=work_dir,
        generator=generator,
    )
    systems = {label: combine(results) for label, results in bursts.items()}
    return {
        "page_size": plan[0].expect,
        "connections": CONNECTIONS,
        "rounds": rounds,
        "burst_seconds": burst,
        "load_generator": generator,
        "warmup_seconds": warmup,
        "systems": systems,
        "bursts": bursts,
        "ratios": {f"{a}/{b}": compare(systems[a], systems[b]) for a, b in COMPARISONS},
    }


def rotating_bursts(
    plan: list[LoadSpec],
    servers: Iterable[Server],
    *,
    rounds: int,
    burst: int,
    warmup: float,
    work_dir: Path,
    generator: str = "asyncio",
) -> dict[str, list[dict[str, Any]]]:
    """Each spec's bursts: `rounds` rounds, every spec once a round, in an order that
    rotates so none always follows the same neighbour; each burst with the CPU its
    server used over it (`server_cpu`: 1.0 = one core saturated)."""
    by_url = {server.url: server for server in servers}

    def burst_of(spec: LoadSpec, seconds: int, round_no: int, warmup: float) -> dict[str, Any]:
        server = by_url[spec.url]
        cpu, wall = server.cpu_seconds(), time.monotonic()
        result = run_load(
            spec,
            seconds=seconds,
            connections=CONNECTIONS,
            round_no=round_no,
            work_dir=work_dir,
            warmup=warmup,
            generator=generator,
        )
        used = server.cpu_seconds() - cpu
        result["server_cpu"] = used / (time.monotonic() - wall)
        result["server_cpu_s"] = used
        return result

    if generator == "wrk":  # wrk cannot warm up inside a burst: a separate one, untimed
        for spec in plan:
            burst_of(spec, WARMUP_SECONDS, 0, 0)
    bursts: dict[str, list[dict[str, Any]]] = {spec.label: [] for spec in plan}
    for round_no in range(1, rounds + 1):
        shift = round_no % len(plan)
        for spec in [*plan[shift:], *plan[:shift]]:
            bursts[spec.label].append(burst_of(spec, burst, round_no, warmup))
    return bursts


def combine(results: list[dict[str, Any]]) -> dict[str, float]:
    """One system's bursts together (their raw samples are dropped afterwards)."""
    requests = sum(r["requests"] for r in results)
    duration = sum(r["duration_s"] for r in results)
    samples = [v for r in results for v in r.pop("samples_ms", [])]
    p99s = [r["latency_ms"]["p99"] for r in results]
    merged = bool(samples)  # wrk gives no samples: fall back to the median burst's
    return {
        "requests": requests,
        "seconds": duration,
        "rps": requests / duration if duration else math.nan,
        "p50_ms": percentile(samples, 50)
        if merged
        else percentile([r["latency_ms"]["p50"] for r in results], 50),
        "p99_ms": percentile(samples, 99) if merged else percentile(p99s, 50),
        "p99_worst_burst_ms": max(p99s),
        "server_cpu": statistics.mean(r["server_cpu"] for r in results),
        # Independent of the load generator's speed: server CPU per answered request.
        "cpu_us_per_request": 1e6
        * sum(r["server_cpu_s"] for r in results)
        / max(1, sum(r.get("all_requests", r["requests"]) for r in results)),
        "first_request_max_ms": max(
            (r.get("first_request_ms", {}).get("max", math.nan) for r in results),
            default=math.nan,
        ),
    }


def compare(ours: dict[str, float], other: dict[str, float]) -> dict[str, float]:
    return {
        "rps": ratio(ours["rps"], other["rps"]),
        "p99": ratio(ours["p99_ms"], other["p99_ms"]),
        "cpu_per_request": ratio(ours["cpu_us_per_request"], other["cpu_us_per_request"]),
    }
