"""cards: `matches(first: 5000)` as cards, ms per request, every system interleaved.

ours cold: a response-cache miss (a fresh, undeclared nonce variable per
request) with snapshots loaded; ours warm: the identical request repeated
(a cache hit). ours-gqlcore cold: the same API started with
MATCHGRAPH_PLANNER=false (every operation through graphql-core), cold.
base cold / warm: our API at another revision (`--versions-base REV`), only
when the run was given one. rest and naive have no cache (cold only); raw is
warm by nature. Each round sends one request per probe, rotating the order.
"""

from __future__ import annotations

from typing import Any

from bench.client import Probe, check_graphql, graphql_probe, post_graphql, rest_probe
from bench.data import DataFacts
from bench.queries import CARDS, CARDS_SIZE
from bench.stats import percentile, ratio, summary_ms
from bench.systems import BASE, GQLCORE, Server

# The targets (ratios of medians); AIMS: where we would like to be.
TARGETS = {"ours_cold/rest": 0.5, "ours_warm/raw": 1.5}
AIMS = {"ours_cold/rest": 0.1}
RATIOS = {
    "ours_cold/rest": ("ours cold", "rest"),
    "ours_cold/naive": ("ours cold", "naive"),
    "ours_warm/raw": ("ours warm", "raw"),
    "ours_cold/gqlcore_cold": ("ours cold", f"{GQLCORE} cold"),
}
BASE_RATIOS = {
    "ours_cold/base_cold": ("ours cold", f"{BASE} cold"),
    "ours_warm/base_warm": ("ours warm", f"{BASE} warm"),
}


def probes(servers: dict[str, Server], n: int) -> list[Probe]:
    ours = servers["ours"]
    plan = [
        graphql_probe("ours cold", ours, CARDS, n, edges=n, fresh=True, cache="miss"),
        graphql_probe("ours warm", ours, CARDS, n, edges=n, fresh=False, cache="hit"),
        graphql_probe(
            f"{GQLCORE} cold", servers[GQLCORE], CARDS, n, edges=n, fresh=True, cache="miss"
        ),
        rest_probe("rest", servers["rest"], n),
        graphql_probe("naive", servers["naive"], CARDS, n, edges=n, fresh=True),
        graphql_probe("raw", servers["raw"], CARDS, n, edges=n, fresh=False),
    ]
    if BASE in servers:
        base = servers[BASE]
        plan += [
            graphql_probe(f"{BASE} cold", base, CARDS, n, edges=n, fresh=True, cache="miss"),
            graphql_probe(f"{BASE} warm", base, CARDS, n, edges=n, fresh=False, cache="hit"),
        ]
    return plan


def run(
    servers: dict[str, Server], facts: DataFacts, *, iterations: int, warmup: int
) -> dict[str, Any]:
    n = facts.cards(CARDS_SIZE)
    # The warm probes expect a hit from their first request on.
    for name in ("ours", BASE):
        if name in servers:
            check_graphql(post_graphql(servers[name], CARDS, n), f"prime {name}", edges=n)
    plan = probes(servers, n)
    clients = [p.client() for p in plan]
    samples: dict[str, list[float]] = {p.label: [] for p in plan}
    sizes: dict[str, int] = {}
    try:
        for round_no in range(warmup + iterations):
            shift = round_no % len(plan)
            for index in [*range(shift, len(plan)), *range(shift)]:
                elapsed, size = plan[index].timed(clients[index])
                if round_no >= warmup:
                    samples[plan[index].label].append(elapsed)
                    sizes[plan[index].label] = size
    finally:
        for client in clients:
            client.close()
    return {
        "cards": n,
        "iterations": iterations,
        "warmup": warmup,
        "systems": {label: summary_ms(values) for label, values in samples.items()},
        "response_bytes": sizes,
        "samples_ms": {label: [v * 1000 for v in values] for label, values in samples.items()},
        "ratios": {
            name: _ratio(samples[a], samples[b])
            for name, (a, b) in (RATIOS | BASE_RATIOS).items()
            if a in samples and b in samples
        },
        "targets": TARGETS,
        "aims": AIMS,
    }


def _ratio(a: list[float], b: list[float]) -> dict[str, float]:
    """Ratio of medians and of p90s, plus the median of per-round ratios (paired)."""
    return {
        "median": ratio(percentile(a, 50), percentile(b, 50)),
        "p90": ratio(percentile(a, 90), percentile(b, 90)),
        "paired_median": percentile([x / y for x, y in zip(a, b, strict=True)], 50),
    }
