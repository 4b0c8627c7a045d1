"""versions: the live path at HEAD against the same at an earlier revision, in one run.

A change to the worker or the API's live path is measured against the code
it replaces, side by side on the same machine in the same minutes, with the
processes started as users start them: for each revision its own
redis-server (no persistence), `matchgraph serve` and `matchgraph worker
--queues short` (`python -m api.cli ...` run from that revision's tree: the
working tree for HEAD, `git archive` of the other revision under
`<work>/revisions/`), on the same demo data and model registry, with the
environment the harness was started with (no OMP_NUM_THREADS added).

Clients (bench.livegen, a process of its own): `mutation predictMatch(wait:
true)` through httpx.AsyncClient, the Python client users run.
- sequential: one client, jobs alternate between the revisions job by job;
- concurrent: `clients` clients (default 20) on one revision for a burst,
  revisions taking turns in rotating order; jobs/s counts jobs completed in
  the timed windows, and CPU per job is read for each process.
Ratios are HEAD / base: > 1 for jobs/s and < 1 for latencies mean HEAD is better.

The same `--versions-base REV` also puts our API at REV (system `base`, started
from the tree `checkout` extracts) beside ours in the cards and hol scenarios
(bench.run.run_http), for the read path's before/after in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import REPO
from bench.livegen import HTTPX, LiveSpec
from bench.scenarios.live import (
    WARMUP_SECONDS,
    _check,
    _latency,
    _wait,
    match_ids,
    redis_binary,
    run_livegen,
)
from bench.stats import ratio
from bench.systems import HOST, BenchError, Server, Servers, System, free_port

CLIENTS = 20
SEQUENTIAL_JOBS = 200
# The targets for HEAD: 2.5x the jobs/s of 8c30ab4, sequential p99 <= 30 ms.
TARGETS = {"jobs_per_s_ratio": 2.5, "seq_p99_ms": 30.0}


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def checkout(rev: str, work_dir: Path) -> tuple[str, Path]:
    """(full commit id, a tree of that revision's files) — extracted once, then reused."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    tree = work_dir / "revisions" / commit[:12]
    if not (tree / "api" / "cli.py").exists():
        tree.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as archive:
            subprocess.run(["git", "-C", str(REPO), "archive", commit], stdout=archive, check=True)
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(tree, filter="data")
    return commit, tree


def _alive_worker(api_url: str) -> bool:
    response = httpx.post(
        api_url + "/graphql", json={"query": "{ workers { alive } }"}, timeout=5.0
    )
    workers = (response.json().get("data") or {}).get("workers") or []
    return any(w["alive"] for w in workers)


def start_revision(servers: Servers, label: str, tree: Path, data_dir: Path) -> dict[str, Server]:
    """A redis-server, `serve` and `worker --queues short` of one revision's tree."""
    port = free_port()
    redis_url = f"redis://{HOST}:{port}/0"
    command = [redis_binary(), "--port", str(port), "--bind", HOST, "--save", ""]
    command += ["--appendonly", "no"]
    store = servers.spawn(System(f"{label}-redis", command[0]), command)
    env = {
        "PYTHONPATH": str(tree),
        "MATCHGRAPH_DATA_DIR": str(data_dir),
        "MLFLOW_TRACKING_URI": f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}",
        "MATCHGRAPH_REDIS_URL": redis_url,
        "MATCHGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / f'{label}-live.db'}",
    }
    api_port = free_port()
    cli = [sys.executable, "-m", "api.cli"]
    api = servers.spawn(
        System(f"{label}-api", "matchgraph serve", env=env, cwd=tree),
        [*cli, "serve", "--host", HOST, "--port", str(api_port)],
        f"http://{HOST}:{api_port}",
    )
    worker = servers.spawn(
        System(f"{label}-worker", "matchgraph worker --queues short", env=env, cwd=tree),
        [*cli, "worker", "--queues", "short"],
    )
    servers.wait_ready(api)
    _wait(f"{label} worker", worker, lambda: _alive_worker(api.url))
    return {"api": api, "worker": worker, "redis": store}


def _burst(
    label: str, stack: dict[str, Server], ids: list[int], clients: int, seconds: float
) -> dict[str, Any]:
    spec = LiveSpec(
        "burst",
        [label],
        stack["api"].url,
        "",
        ids,
        clients=clients,
        seconds=seconds,
        warmup_seconds=WARMUP_SECONDS,
        watch={name: server.pid for name, server in stack.items()},
    )
    result = run_livegen(spec, timeout=seconds + WARMUP_SECONDS + 180)
    _check(f"concurrent {label}", result)
    return result


def _combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    samples = [v for r in results for v in r.pop("samples_ms")]
    window = sum(r["window_s"] for r in results)
    done = sum(r["completed_in_window"] for r in results)
    names = ("api", "worker", "redis", "client")
    cpu = {name: sum(r["window_cpu_s"][name] for r in results) for name in names}
    machine = sum(r["window_cpu_s"]["machine"] for r in results)
    return {
        "jobs_in_window": done,
        "jobs_per_s": done / window,
        **_latency(samples),
        "cpu_ms_per_job": {name: 1000 * used / max(1, done) for name, used in cpu.items()},
        "machine_cores_busy": machine / window,
        "jobs_per_s_by_burst": [r["jobs_per_s"] for r in results],
    }


def run(
    data_dir: Path,
    work_dir: Path,
    *,
    base: str,
    jobs: int = SEQUENTIAL_JOBS,
    clients: int = CLIENTS,
    seconds: int = 20,
    warmup_jobs: int = 10,
) -> dict[str, Any]:
    head_commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    base_commit, base_tree = checkout(base, work_dir)
    head, old = f"{HTTPX} HEAD", f"{HTTPX} {base_commit[:7]}"
    ids = match_ids(data_dir)
    with Servers(work_dir / "logs" / "versions") as servers:
        stacks = {
            head: start_revision(servers, "head", REPO, data_dir),
            old: start_revision(servers, "base", base_tree, data_dir),
        }
        urls = {label: stack["api"].url for label, stack in stacks.items()}
        spec = LiveSpec(
            "sequential", [head, old], urls[head], "", ids, jobs, warmup_jobs, urls=urls
        )
        seq = run_livegen(spec, timeout=(jobs + warmup_jobs) * 2 * 5 + 120)
        sequential = {}
        for label, tally in seq["systems"].items():
            _check(f"sequential {label}", tally)
            sequential[label] = _latency(tally["samples_ms"])
        rounds = max(2, seconds // 5)
        burst = max(1.0, seconds / rounds)
        bursts: dict[str, list[dict[str, Any]]] = {head: [], old: []}
        for round_no in range(rounds):
            order = [head, old] if round_no % 2 == 0 else [old, head]
            for label in order:
                bursts[label].append(_burst(label, stacks[label], ids, clients, burst))
    concurrent = {label: _combine(results) for label, results in bursts.items()}
    h, b = concurrent[head], concurrent[old]
    ratios = {
        "jobs_per_s": ratio(h["jobs_per_s"], b["jobs_per_s"]),
        "conc_p50": ratio(h["p50_ms"], b["p50_ms"]),
        "conc_p99": ratio(h["p99_ms"], b["p99_ms"]),
        "seq_p50": ratio(sequential[head]["p50_ms"], sequential[old]["p50_ms"]),
        "seq_p99": ratio(sequential[head]["p99_ms"], sequential[old]["p99_ms"]),
        "worker_cpu_per_job": ratio(h["cpu_ms_per_job"]["worker"], b["cpu_ms_per_job"]["worker"]),
    }
    return {
        "setup": {
            "head": head_commit,
            "head_dirty_tree": dirty,
            "base": base_commit,
            "clients": clients,
            "rounds": rounds,
            "burst_seconds": burst,
            "warmup_seconds": WARMUP_SECONDS,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "cpus": os.cpu_count(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "sequential": sequential,
        "concurrent": concurrent,
        "ratios": ratios,
        "targets": TARGETS,
        "verdicts": {
            "jobs_per_s_ratio": ratios["jobs_per_s"] >= TARGETS["jobs_per_s_ratio"],
            "seq_p99_ms": sequential[head]["p99_ms"] <= TARGETS["seq_p99_ms"],
        },
    }


def render(r: dict[str, Any]) -> list[str]:
    setup = r["setup"]
    lines = [
        f"versions: HEAD {setup['head'][:10]}{' (dirty)' if setup['head_dirty_tree'] else ''}"
        f" against {setup['base'][:10]}, httpx predictMatch(wait: true),"
        f" {setup['clients']} clients",
        f"  {'system':<18}{'seq p50':>9}{'seq p99':>9}{'jobs/s':>9}{'conc p50':>10}"
        f"{'conc p99':>10}{'worker ms/job':>15}",
    ]
    for label, c in r["concurrent"].items():
        s = r["sequential"][label]
        lines.append(
            f"  {label:<18}{s['p50_ms']:>9.1f}{s['p99_ms']:>9.1f}{c['jobs_per_s']:>9.1f}"
            f"{c['p50_ms']:>10.1f}{c['p99_ms']:>10.1f}{c['cpu_ms_per_job']['worker']:>15.2f}"
        )
    ratios = "  ".join(f"{k} {v:.2f}" for k, v in r["ratios"].items())
    lines.append(f"  HEAD/base: {ratios}")
    lines.append(f"  verdicts: {r['verdicts']}")
    return lines
