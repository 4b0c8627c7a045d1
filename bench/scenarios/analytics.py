"""analytics: what `calibration`, `backtest` and `matches(minEdge:)` cost at N matches.

For each size (20k; 500k with `--full`), our API starts alone on that data set
and we time, over HTTP, each with a fresh nonce (never a response-cache hit):

- first: the first `calibration` after start-up, which also joins predictions,
  odds and results for the data version (once per version, graph/analytics/table.py);
- compute: each request with arguments no earlier one used (a new `to` far in
  the future, or `minEdge` moved by 1e-12), so every one is computed;
- cached: the same arguments again, answered from the per-process analytics
  cache (graph/analytics/cache.py) though not from the response cache.

Medians of `reps` requests. A check replays the pipeline's ROI file
(`backtest(pick: PREDICTED, minEdge: 1e-16)` against roi_by_region.csv).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from bench.client import decode, fresh_nonce
from bench.data import ROI, ensure_demo
from bench.stats import percentile
from bench.systems import BenchError, Server, Servers, ours

CALIBRATION = """query($to: DateTime) { calibration(to: $to) {
  matches brierScore logLoss accuracy bins { lower upper count meanPredicted observedRate } } }"""
BACKTEST = """query($minEdge: Float, $staking: Staking, $pick: Pick) {
  backtest(minEdge: $minEdge, staking: $staking, pick: $pick, kellyFraction: 0.5) {
    bets staked profit roi hitRate maxDrawdown byRegion { region bets staked profit roi } } }"""
VALUE_PAGE = """query($minEdge: Float) { matches(first: 100, minEdge: $minEdge) {
  totalCount edges { node { matchId value { home draw away best bestEdge kelly } } } } }"""
ROI_CHECK = """{ backtest(pick: PREDICTED, minEdge: 1e-16) {
  byRegion { region bets won profit roi } } }"""
FAR = pd.Timestamp("2200-01-01T00:00:00Z")


def _operations() -> dict[str, tuple[str, Any]]:
    """name -> (query, variables of the i-th distinct argument set)."""
    return {
        "calibration": (
            CALIBRATION,
            lambda i: {"to": (FAR + pd.Timedelta(seconds=i)).isoformat()},
        ),
        "backtest flat": (BACKTEST, lambda i: {"minEdge": i * 1e-12, "staking": "FLAT"}),
        "backtest kelly": (BACKTEST, lambda i: {"minEdge": i * 1e-12, "staking": "KELLY"}),
        "backtest predicted": (
            BACKTEST,
            lambda i: {"minEdge": 1e-16 + i * 1e-12, "pick": "PREDICTED"},
        ),
        "matches(minEdge) 100": (VALUE_PAGE, lambda i: {"minEdge": 0.02 + i * 1e-12}),
    }


def _post(client: httpx.Client, query: str, variables: dict[str, Any]) -> tuple[float, Any]:
    payload = {"query": query, "variables": {**variables, "nonce": fresh_nonce()}}
    start = time.perf_counter()
    response = client.post("/graphql", json=payload)
    elapsed = time.perf_counter() - start
    body = decode(response, "analytics")
    if body.get("errors"):
        raise BenchError(f"analytics: GraphQL errors: {str(body['errors'])[:300]}")
    return elapsed, body["data"]


def _median_ms(samples: list[float]) -> float:
    return percentile([s * 1000 for s in samples], 50)


def _roi_reproduced(client: httpx.Client, data_dir: Path) -> bool:
    _, answer = _post(client, ROI_CHECK, {})
    mine = {r["region"]: r for r in answer["backtest"]["byRegion"]}
    roi = pd.read_csv(data_dir / ROI)
    return set(mine) == set(roi["region"]) and all(
        mine[r.region]["bets"] == r.n_bets
        and round(mine[r.region]["profit"], 2) == round(r.profit, 2)
        and round(mine[r.region]["roi"], 4) == round(r.roi, 4)
        for r in roi.itertuples()
    )


def _measure(server: Server, data_dir: Path, reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=server.url, timeout=300.0) as client:
        first, answer = _post(client, CALIBRATION, {"to": FAR.isoformat()})
        out["first_ms"] = first * 1000
        out["matches_counted"] = answer["calibration"]["matches"]
        for name, (query, variables) in _operations().items():
            _post(client, query, variables(0))  # untimed: the first of its kind
            computed = [_post(client, query, variables(i + 1))[0] for i in range(reps)]
            cached = [_post(client, query, variables(1))[0] for _ in range(reps)]
            out[name] = {"compute_ms": _median_ms(computed), "cached_ms": _median_ms(cached)}
        out["roi_reproduced"] = _roi_reproduced(client, data_dir)
    return out


def run(
    work_dir: Path,
    sizes: list[int],
    seed: int,
    known: dict[int, Path] | None = None,
    *,
    reps: int = 7,
) -> dict[str, Any]:
    """`known`: data dirs this run already serves, reused as they are."""
    known = known or {}
    data_dirs = {n: known.get(n) or ensure_demo(work_dir, n, seed) for n in sizes}
    rows: dict[str, Any] = {}
    with Servers(work_dir / "logs" / "analytics") as servers:
        for n, data_dir in data_dirs.items():
            server = servers.start(ours(data_dir))
            try:
                servers.wait_ready(server)
                rows[str(n)] = _measure(server, data_dir, reps)
            finally:
                servers.stop(server.name)
    return {"reps": reps, "operations": list(_operations()), "sizes": rows}


def render(r: dict[str, Any]) -> list[str]:
    lines = [
        f"analytics: our API alone on N matches, HTTP, medians of {r['reps']} (ms);"
        " compute = new arguments, cached = same arguments (analytics cache, no response cache)",
    ]
    for n, s in r["sizes"].items():
        lines.append(
            f"  {n} matches: first calibration {s['first_ms']:.1f} ms"
            f" ({s['matches_counted']} matches counted), ROI file reproduced:"
            f" {s['roi_reproduced']}"
        )
        for name in r["operations"]:
            compute, cached = s[name]["compute_ms"], s[name]["cached_ms"]
            lines.append(f"    {name:<24}compute {compute:>8.1f}   cached {cached:>7.1f}")
    return lines
