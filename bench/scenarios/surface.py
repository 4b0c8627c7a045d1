"""surface: what the production operation surface (issue 10) costs per request.

Two processes of our API, each started as users start it (`python -m api.cli
serve`), on the same data and the same Redis:

- `open`: the defaults (no key, no rate limit; cost analysis and APQ are always on);
- `guarded`: named API keys and a cost-based rate limit (MATCHGRAPH_API_KEYS,
  MATCHGRAPH_RATE_LIMIT_COST_PER_MINUTE: a budget no request here exhausts, so
  every request pays the GCRA round trip to Redis and none is refused);
- `traced`: the defaults with OpenTelemetry on (MATCHGRAPH_OTEL_ENABLED; the SDK's
  provider records every span, OTEL_TRACES_EXPORTER=none drops them at the end,
  so what is measured is making the spans, not shipping them).

Load as in `page` (closed loop, 32 keep-alive connections, rotating bursts,
every request a cache miss through a nonce variable), for two documents: the
page of 50 cards with ROI, and the hol prober's one-match query, where a fixed
per-request cost weighs most. Per document:

- `open full`: the document on `open`;
- `guarded full`: the same with its X-API-Key on `guarded`: + key check + one
  Redis round trip;
- `guarded apq`: only the document's sha256 (APQ, registered once before), on
  `guarded`: + the registry lookup (in-process LRU in front of Redis);
- `traced full`: the document on `traced`.

Ratios `… /open full`: requests/s, p99 and server CPU per request.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from bench.load import NONCE, LoadSpec
from bench.queries import PAGE, PAGE_SIZE, PROBE
from bench.scenarios.page import CONNECTIONS, WARMUP_SECONDS, combine, compare, rotating_bursts
from bench.systems import BenchError, Server, Servers, System, free_port

KEY = "bench-surface-key-0123456789"  # a throwaway key for a loopback-only process
BUDGET = 2_000_000_000  # cost units per minute: never reached, always charged
NAMESPACE = "matchgraph-bench-surface"


def _serve(servers: Servers, name: str, data_dir: Path, env: dict[str, str]) -> Server:
    port = free_port()
    system = System(
        name,
        "api.cli serve",
        env={
            "MATCHGRAPH_DATA_DIR": str(data_dir),
            "MATCHGRAPH_REDIS_NAMESPACE": f"{NAMESPACE}-{name}",
            **env,
        },
    )
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    return servers.spawn(system, command, f"http://127.0.0.1:{port}")


def _bodies(query: str, variables: dict[str, Any]) -> tuple[str, str]:
    """The full request and the hash-only one, both with a NONCE variable."""
    varying = {**variables, "nonce": NONCE}
    digest = hashlib.sha256(query.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    return (
        json.dumps({"query": query, "variables": varying}),
        json.dumps({"variables": varying, "extensions": apq}),
    )


def _register(server: Server, query: str, variables: dict[str, Any]) -> None:
    """Send the document with its hash once, so hash-only requests find it."""
    digest = hashlib.sha256(query.encode()).hexdigest()
    body = {
        "query": query,
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
    }
    response = httpx.post(
        server.url + "/graphql", json=body, headers={"X-API-Key": KEY}, timeout=30
    )
    if response.status_code != 200 or "errors" in response.json():
        raise BenchError(f"APQ registration on {server.name} failed: {response.text[:300]}")
    if "ratelimit-policy" not in response.headers:  # else we would measure no rate limit
        raise BenchError(f"{server.name} answered without RateLimit-Policy: no rate limit on")


def specs(open_: Server, guarded: Server, traced: Server, match_id: int, n: int) -> list[LoadSpec]:
    key = (("X-API-Key", KEY),)
    plan = []
    for doc, query, variables, token, expect in (
        ("page", PAGE, {"first": n}, '"matchId":', n),
        ("tiny", PROBE, {"id": match_id}, '"matchId":', 1),
    ):
        full, hashed = _bodies(query, variables)
        _register(guarded, query, variables)
        plan += [
            LoadSpec(f"{doc} open full", open_.url, "POST", "/graphql", full, token, expect),
            LoadSpec(
                f"{doc} guarded full", guarded.url, "POST", "/graphql", full, token, expect, "", key
            ),
            LoadSpec(
                f"{doc} guarded apq",
                guarded.url,
                "POST",
                "/graphql",
                hashed,
                token,
                expect,
                "",
                key,
            ),
            LoadSpec(f"{doc} traced full", traced.url, "POST", "/graphql", full, token, expect),
        ]
    return plan


def run(
    data_dir: Path, work_dir: Path, *, match_id: int, seconds: int, n: int = PAGE_SIZE
) -> dict[str, Any]:
    with Servers(work_dir / "logs" / "surface") as servers:
        open_ = _serve(servers, "open", data_dir, {})
        guarded = _serve(
            servers,
            "guarded",
            data_dir,
            {
                "MATCHGRAPH_API_KEYS": f"bench:{KEY}",
                "MATCHGRAPH_RATE_LIMIT_COST_PER_MINUTE": str(BUDGET),
            },
        )
        traced = _serve(
            servers,
            "traced",
            data_dir,
            {"MATCHGRAPH_OTEL_ENABLED": "true", "OTEL_TRACES_EXPORTER": "none"},
        )
        for server in (open_, guarded, traced):
            servers.wait_ready(server)
        plan = specs(open_, guarded, traced, match_id, n)
        rounds = max(2, seconds // 5)
        burst = max(1, round(seconds / rounds))
        bursts = rotating_bursts(
            plan,
            (open_, guarded, traced),
            rounds=rounds,
            burst=burst,
            warmup=WARMUP_SECONDS,
            work_dir=work_dir,
        )
        systems = {label: combine(results) for label, results in bursts.items()}
    ratios = {
        f"{doc} {kind}/open full": compare(systems[f"{doc} {kind}"], systems[f"{doc} open full"])
        for doc in ("page", "tiny")
        for kind in ("guarded full", "guarded apq", "traced full")
    }
    return {
        "connections": CONNECTIONS,
        "rounds": rounds,
        "burst_seconds": burst,
        "page_size": n,
        "rate_limit_budget_per_minute": BUDGET,
        "systems": systems,
        "ratios": ratios,
    }


def render(r: dict[str, Any]) -> list[str]:
    lines = [
        "surface: keys + rate limit + APQ, and tracing, against the defaults, "
        f"{r['connections']} clients, {r['rounds']} x {r['burst_seconds']} s bursts each, "
        "every request a cache miss",
        f"  {'system':<20}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server CPU':>12}{'CPU us/req':>12}",
    ]
    for label, s in r["systems"].items():
        lines.append(
            f"  {label:<20}{s['rps']:>9.0f}{s['p50_ms']:>9.1f}{s['p99_ms']:>9.1f}"
            f"{s['server_cpu']:>11.0%}{s['cpu_us_per_request']:>12.0f}"
        )
    lines.append(f"  {'ratio':<32}{'req/s':>8}{'p99':>8}{'CPU/req':>9}")
    for name, v in r["ratios"].items():
        lines.append(f"  {name:<32}{v['rps']:>8.2f}{v['p99']:>8.2f}{v['cpu_per_request']:>9.2f}")
    return lines
