"""hol (head-of-line): a tiny query's latency while K clients loop over cold 5000-card pages.

Per system, K background clients (default 4, each its own keep-alive
connection; `bench.loadgen`, a process of its own) send `matches(first: 5000)`
card pages back to back, each with a fresh nonce (a response-cache miss, so
every page executes). Meanwhile ONE prober (`bench.probegen`, another process)
sends `match(matchId: X) { matchId }`, also with a fresh nonce, one at a time,
about every 10 ms. The figure is the prober's p50/p95/p99/max: how long a tiny
request waits behind big ones on the server's event loop. The background's
pages/s says what the server did meanwhile.

Why that probe: its work is constant (one id, one field; no list that grows
with the catalogue, unlike `regions`), it runs through the same schema,
loaders (and planner) as the pages, and its nonce keeps the response cache
from answering it, so the server really executes it while it is busy.

Timing: both processes start together; the background warms up for 1 s, the
prober starts 0.25 s after that and stops 0.25 s before the background's timed
window ends, so every probe meets a loaded server. Systems take turns in
bursts of about 5 s (rotating order). Before the bursts the prober runs alone
against each system (`idle`) for reference. The prober is sequential: a stall
of the server costs it one slow sample, not one per 10 ms tick it missed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import REPO
from bench.load import NONCE, LoadSpec, checked, load_command
from bench.queries import CARDS, CARDS_SIZE, graphql_payload, probe_payload
from bench.stats import percentile, ratio
from bench.systems import BASE, GQLCORE, BenchError, Server

CLIENTS = 4
INTERVAL_MS = 10.0
WARMUP_SECONDS = 1.0
MARGIN_SECONDS = 0.25  # the prober's window sits this far inside the background's
BURST_SECONDS = 5.0
TARGETS = {"ours_probe_p99_ms": 50.0}
SYSTEMS = ("ours", GQLCORE, BASE)  # those of them running, in this order


def _probe_spec(server: Server, match_id: int) -> LoadSpec:
    body = json.dumps(probe_payload(match_id, NONCE))
    return LoadSpec(
        f"{server.name} probe", server.url, "POST", "/graphql", body, '"matchId":', 1, "miss"
    )


def _page_spec(server: Server, n: int) -> LoadSpec:
    body = json.dumps(graphql_payload(CARDS, n, NONCE))
    return LoadSpec(
        f"{server.name} pages", server.url, "POST", "/graphql", body, '"matchId":', n, "miss"
    )


def _probe_command(spec: LoadSpec, seconds: float, delay: float, tag: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.probegen",
        json.dumps(asdict(spec)),
        str(seconds),
        str(INTERVAL_MS),
        tag,
        str(delay),
    ]


def _run_probe(spec: LoadSpec, seconds: float, tag: str) -> dict[str, Any]:
    done = subprocess.run(
        _probe_command(spec, seconds, 0.0, tag),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    return checked(spec, done.returncode, done.stdout, done.stderr)


def _burst(
    server: Server,
    probe: LoadSpec,
    pages: LoadSpec,
    *,
    clients: int,
    seconds: float,
    round_no: int,
    work_dir: Path,
) -> dict[str, Any]:
    """One burst: background pages and the prober together, plus the server's CPU use."""
    background_cmd = load_command(
        pages,
        seconds=seconds + 2 * MARGIN_SECONDS,
        connections=clients,
        round_no=round_no,
        work_dir=work_dir,
        warmup=WARMUP_SECONDS,
    )
    probe_cmd = _probe_command(
        probe, seconds, WARMUP_SECONDS + MARGIN_SECONDS, f"{round_no}-{time.time_ns()}"
    )
    cpu, wall = server.cpu_seconds(), time.monotonic()
    timeout = seconds + WARMUP_SECONDS + 180
    with (
        subprocess.Popen(
            background_cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as background,
        subprocess.Popen(
            probe_cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as prober,
    ):
        try:
            probe_out, probe_err = prober.communicate(timeout=timeout)
            back_out, back_err = background.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            prober.kill()
            background.kill()
            raise BenchError(f"hol burst on {server.name} did not finish") from exc
    used = server.cpu_seconds() - cpu
    return {
        "probe": checked(probe, prober.returncode, probe_out, probe_err),
        "background": checked(pages, background.returncode, back_out, back_err),
        "server_cpu": used / (time.monotonic() - wall),
    }


def _latency(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "p99_ms": percentile(samples, 99),
        "max_ms": max(samples, default=math.nan),
    }


def _combine(bursts: list[dict[str, Any]], n: int) -> dict[str, Any]:
    probes = [v for b in bursts for v in b["probe"].pop("samples_ms")]
    pages = [v for b in bursts for v in b["background"].pop("samples_ms")]
    requests = sum(b["background"]["requests"] for b in bursts)
    duration = sum(b["background"]["duration_s"] for b in bursts)
    rps = requests / duration if duration else math.nan
    return {
        "probe": _latency(probes),
        "probe_per_s": len(probes) / sum(b["probe"]["duration_s"] for b in bursts),
        "background": {
            "pages": requests,
            "pages_per_s": rps,
            "cards_per_s": rps * n,
            "page_p50_ms": percentile(pages, 50),
            "page_p99_ms": percentile(pages, 99),
        },
        "server_cpu": sum(b["server_cpu"] for b in bursts) / len(bursts),
    }


def run(
    servers: dict[str, Server],
    *,
    cards: int,
    match_id: int,
    seconds: float,
    clients: int = CLIENTS,
    idle_seconds: float = 2.0,
    work_dir: Path,
) -> dict[str, Any]:
    names = [name for name in SYSTEMS if name in servers]
    n = min(cards, CARDS_SIZE)
    probes = {name: _probe_spec(servers[name], match_id) for name in names}
    pages = {name: _page_spec(servers[name], n) for name in names}
    idle = {
        name: _latency(
            _run_probe(probes[name], idle_seconds, f"idle-{time.time_ns()}")["samples_ms"]
        )
        for name in names
    }
    rounds = max(1, round(seconds / BURST_SECONDS))
    burst = seconds / rounds
    bursts: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_no in range(rounds):
        shift = round_no % len(names)
        for name in [*names[shift:], *names[:shift]]:
            bursts[name].append(
                _burst(
                    servers[name],
                    probes[name],
                    pages[name],
                    clients=clients,
                    seconds=burst,
                    round_no=round_no,
                    work_dir=work_dir,
                )
            )
    systems = {name: {**_combine(bursts[name], n), "idle": idle[name]} for name in names}
    ratios = {
        f"ours/{other}": {
            "probe_p99": ratio(
                systems["ours"]["probe"]["p99_ms"], systems[other]["probe"]["p99_ms"]
            ),
            "pages_per_s": ratio(
                systems["ours"]["background"]["pages_per_s"],
                systems[other]["background"]["pages_per_s"],
            ),
        }
        for other in names
        if other != "ours" and "ours" in systems
    }
    verdicts = (
        {"ours_probe_p99_ms": systems["ours"]["probe"]["p99_ms"] <= TARGETS["ours_probe_p99_ms"]}
        if "ours" in systems
        else {}
    )
    return {
        "clients": clients,
        "page_size": n,
        "probe": {"match_id": match_id, "interval_ms": INTERVAL_MS},
        "rounds": rounds,
        "burst_seconds": burst,
        "warmup_seconds": WARMUP_SECONDS,
        "systems": systems,
        "ratios": ratios,
        "targets": TARGETS,
        "verdicts": verdicts,
    }


def render(r: dict[str, Any]) -> list[str]:
    lines = [
        f"hol: match(matchId) {{ matchId }} every {r['probe']['interval_ms']:g} ms (fresh nonce)"
        f" while {r['clients']} clients loop over cold matches(first: {r['page_size']}),"
        f" {r['rounds']} x {r['burst_seconds']:.1f} s each",
        f"  {'system':<14}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}{'n':>6}  |{'idle p50':>9}"
        f"{'idle p99':>9}  |{'pages/s':>8}{'cards/s':>9}{'page p50':>9}{'server CPU':>11}",
    ]
    for name, s in r["systems"].items():
        p, i, b = s["probe"], s["idle"], s["background"]
        lines.append(
            f"  {name:<14}{p['p50_ms']:>7.1f}{p['p95_ms']:>7.1f}{p['p99_ms']:>7.1f}"
            f"{p['max_ms']:>8.1f}{p['n']:>6}  |{i['p50_ms']:>9.1f}{i['p99_ms']:>9.1f}"
            f"  |{b['pages_per_s']:>8.1f}{b['cards_per_s']:>9.0f}{b['page_p50_ms']:>9.0f}"
            f"{s['server_cpu']:>10.0%}"
        )
    for name, v in r["ratios"].items():
        lines.append(
            f"  {name}: probe p99 {v['probe_p99']:.2f}, background pages/s {v['pages_per_s']:.2f}"
        )
    target = r["targets"]["ours_probe_p99_ms"]
    for name, ok in r["verdicts"].items():
        lines.append(f"  target {name} <= {target:g}: {'PASS' if ok else 'FAIL'}")
    lines.append("  (probe latencies in ms, under load; idle: the prober alone beforehand)")
    return lines
