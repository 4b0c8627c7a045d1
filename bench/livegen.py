"""Live-prediction clients for the `live` scenario, in their own process (uvloop).

    python -m bench.livegen SPEC_JSON

Three ways of getting one prediction, each timed from submit to result:

- `ours subscription`: graphql-transport-ws, one connection per client reused
  for every job; `subscription predictMatch` until its `next` says COMPLETE.
- `ours mutation-wait`: `mutation predictMatch(wait: true)` over a keep-alive
  HTTP/1.1 connection (raw, as bench.loadgen), one round trip.
- `arq-default`: arq's own `enqueue_job` + `Job.result()` at its default
  poll_delay (0.5 s), one arq pool per process (see bench.baselines.arq_default).
- any label starting with `httpx`: the same mutation through an
  `httpx.AsyncClient` (keep-alive), the client most Python users run; the
  `versions` scenario gives each label its own API (`urls`).

`sequential`: one client per system, every round runs one job on each system
in rotating order (same match for all), so the systems are interleaved job by
job. `burst`: `clients` clients of ONE system submit back to back for
`warmup + seconds`; jobs submitted during the warm-up are checked but not
timed, and throughput counts the jobs that completed inside the timed window.
Every result is checked: COMPLETE with probabilities summing to 1 (the
subscription and mutation ask for `probaHome` only: in [0, 1]).
Prints one `BENCHJSON {...}` line.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect

from bench.baselines.arq_default import open_pool, predict
from bench.load import RESULT_PREFIX
from bench.loadgen import read_response
from bench.systems import cpu_seconds, machine_busy_seconds

SUBSCRIPTION = "ours subscription"
MUTATION = "ours mutation-wait"
ARQ_DEFAULT = "arq-default"
HTTPX = "httpx"  # label prefix: `HttpxClient` on the label's own API (LiveSpec.urls)
SYSTEMS = (SUBSCRIPTION, MUTATION, ARQ_DEFAULT)

SUBSCRIBE_QUERY = (
    "subscription Live($m: Int!) { predictMatch(matchId: $m) { status result { probaHome } } }"
)
MUTATION_QUERY = (
    "mutation Live($m: Int!) "
    "{ predictMatch(matchId: $m, wait: true) { status result { probaHome } } }"
)
TRANSPORT_WS = "graphql-transport-ws"
JOB_TIMEOUT = 30.0


@dataclass(frozen=True)
class LiveSpec:
    mode: str  # "sequential" | "burst"
    systems: list[str]
    api_url: str  # http://host:port of our API
    arq_redis_url: str  # the arq-default database
    match_ids: list[int]
    jobs: int = 0  # sequential: timed rounds
    warmup_jobs: int = 0  # sequential: untimed rounds first
    clients: int = 1  # burst
    seconds: float = 0.0  # burst: timed window
    warmup_seconds: float = 0.0  # burst: untimed lead-in
    watch: dict[str, int] = field(default_factory=dict)  # burst: processes whose CPU to read
    urls: dict[str, str] = field(default_factory=dict)  # system label -> its API (else api_url)


class BadResult(Exception):
    """A job that did not end COMPLETE with probabilities."""


class Client(Protocol):
    async def predict(self, match_id: int) -> float:
        """Seconds from submit to result; raises BadResult, OSError or TimeoutError."""
        ...

    async def close(self) -> None: ...


def _check_proba(value: Any, what: str) -> None:
    if not isinstance(value, float) or not 0.0 <= value <= 1.0:
        raise BadResult(f"{what}: probability {value!r}")


def _check_task(task: Any) -> None:
    if not isinstance(task, dict) or task.get("status") != "COMPLETE":
        raise BadResult(f"task {str(task)[:200]}")
    _check_proba((task.get("result") or {}).get("probaHome"), "probaHome")


class SubscriptionClient:
    """graphql-transport-ws over one WebSocket; one subscription at a time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.frames = 0  # `next` frames received (QUEUED, IN_PROGRESS, COMPLETE...)

    @classmethod
    async def open(cls, api_url: str) -> SubscriptionClient:
        ws_url = "ws" + api_url.removeprefix("http") + "/graphql"
        ws = await connect(ws_url, subprotocols=[TRANSPORT_WS])  # type: ignore[list-item]
        ws.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        ack = orjson.loads(await asyncio.wait_for(ws.recv(), JOB_TIMEOUT))
        if ack.get("type") != "connection_ack":
            raise BadResult(f"no connection_ack: {ack}")
        return cls(ws)

    async def predict(self, match_id: int) -> float:
        op = str(next(self.ids))
        message = {
            "id": op,
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE_QUERY, "variables": {"m": match_id}},
        }
        data = orjson.dumps(message).decode()
        elapsed, last = math.nan, None
        async with asyncio.timeout(JOB_TIMEOUT):
            started = time.perf_counter()
            await self.ws.send(data)
            while True:
                frame = orjson.loads(await self.ws.recv())
                kind = frame.get("type")
                if kind == "next" and frame.get("id") == op:
                    self.frames += 1
                    payload = frame["payload"]
                    if payload.get("errors"):
                        raise BadResult(f"errors {str(payload['errors'])[:200]}")
                    task = last = payload["data"]["predictMatch"]
                    if task["status"] == "COMPLETE":
                        elapsed = time.perf_counter() - started
                        _check_task(task)
                elif kind == "complete" and frame.get("id") == op:
                    break
                elif kind == "ping":
                    await self.ws.send('{"type":"pong"}')
                elif kind in ("error", "connection_error"):
                    raise BadResult(f"{kind} {str(frame)[:200]}")
        if math.isnan(elapsed):
            raise BadResult(f"subscription completed, last task {last}")
        return elapsed

    async def close(self) -> None:
        await self.ws.close()


class MutationClient:
    """POST /graphql over one keep-alive HTTP/1.1 connection."""

    def __init__(self, api_url: str, reader: asyncio.StreamReader, writer: Any) -> None:
        parts = urlsplit(api_url)
        self.head = f"POST /graphql HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, api_url: str) -> MutationClient:
        parts = urlsplit(api_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(api_url, reader, writer)

    def _request(self, match_id: int) -> bytes:
        body = orjson.dumps({"query": MUTATION_QUERY, "variables": {"m": match_id}})
        head = f"{self.head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    async def predict(self, match_id: int) -> float:
        request = self._request(match_id)
        async with asyncio.timeout(JOB_TIMEOUT):
            started = time.perf_counter()
            self.writer.write(request)
            status, _, body = await read_response(self.reader)
            elapsed = time.perf_counter() - started
        if status != 200:
            raise BadResult(f"HTTP {status} {body[:200]!r}")
        decoded = orjson.loads(body)
        if decoded.get("errors"):
            raise BadResult(f"errors {str(decoded['errors'])[:200]}")
        _check_task(decoded["data"]["predictMatch"])
        return elapsed

    async def close(self) -> None:
        self.writer.close()


class HttpxClient:
    """The mutation through one `httpx.AsyncClient` (connection pool, keep-alive)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @classmethod
    async def open(cls, api_url: str) -> HttpxClient:
        return cls(httpx.AsyncClient(base_url=api_url, timeout=JOB_TIMEOUT))

    async def predict(self, match_id: int) -> float:
        payload = {"query": MUTATION_QUERY, "variables": {"m": match_id}}
        started = time.perf_counter()
        response = await self.client.post("/graphql", json=payload)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise BadResult(f"HTTP {response.status_code} {response.text[:200]}")
        decoded = response.json()
        if decoded.get("errors"):
            raise BadResult(f"errors {str(decoded['errors'])[:200]}")
        _check_task(decoded["data"]["predictMatch"])
        return elapsed

    async def close(self) -> None:
        await self.client.aclose()


class ArqClient:
    """arq's `enqueue_job` + `Job.result()` (default poll_delay 0.5 s) on a shared pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def predict(self, match_id: int) -> float:
        async with asyncio.timeout(JOB_TIMEOUT):
            started = time.perf_counter()
            result = await predict(self.pool, match_id)
            elapsed = time.perf_counter() - started
        if not isinstance(result, dict) or result.get("match_id") != match_id:
            raise BadResult(f"result {str(result)[:200]}")
        probas: list[float] = []
        for key in ("proba_home", "proba_draw", "proba_away"):
            _check_proba(result.get(key), key)
            probas.append(result[key])
        if abs(sum(probas) - 1.0) > 1e-6:
            raise BadResult(f"probabilities sum to {sum(probas)}")
        return elapsed

    async def close(self) -> None:
        pass  # the pool is closed once, by its owner


@dataclass
class Tally:
    samples: list[float] = field(default_factory=list)  # timed latencies, seconds
    finished_at: list[float] = field(default_factory=list)  # perf_counter of every good job
    ok: int = 0
    bad: int = 0
    first_bad: str = ""

    def fail(self, why: str) -> None:
        self.bad += 1
        self.first_bad = self.first_bad or why


class Factory:
    """Opens clients of each system (sharing one arq pool in this process)."""

    def __init__(self, spec: LiveSpec) -> None:
        self.spec = spec
        self.pool: Any = None

    async def open(self, system: str) -> Client:
        if system.startswith(HTTPX):
            return await HttpxClient.open(self.spec.urls.get(system, self.spec.api_url))
        if system == SUBSCRIPTION:
            return await SubscriptionClient.open(self.spec.api_url)
        if system == MUTATION:
            return await MutationClient.open(self.spec.api_url)
        if system == ARQ_DEFAULT:
            if self.pool is None:
                self.pool = await open_pool(self.spec.arq_redis_url)
            return ArqClient(self.pool)
        raise ValueError(f"unknown system {system!r}")

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()


async def _one(client: Client, match_id: int, tally: Tally, timed: bool) -> None:
    try:
        elapsed = await client.predict(match_id)
    except Exception as exc:  # BadResult, OSError, TimeoutError, ...: every failure counts
        tally.fail(f"{type(exc).__name__}: {exc}")
        return
    tally.ok += 1
    tally.finished_at.append(time.perf_counter())
    if timed:
        tally.samples.append(elapsed)


def _summary(tally: Tally) -> dict[str, Any]:
    return {
        "ok": tally.ok,
        "bad": tally.bad,
        "first_bad": tally.first_bad,
        "samples_ms": [s * 1000 for s in tally.samples],
    }


def cpu_now(watch: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each watched process, this one ("client") and the whole machine."""
    now = {name: cpu_seconds(pid) for name, pid in watch.items()}
    return now | {"client": time.process_time(), "machine": machine_busy_seconds()}


def cpu_since(start: dict[str, float], watch: dict[str, int]) -> dict[str, float]:
    return {name: value - start[name] for name, value in cpu_now(watch).items()}


async def sequential(spec: LiveSpec) -> dict[str, Any]:
    factory = Factory(spec)
    clients = {system: await factory.open(system) for system in spec.systems}
    tallies = {system: Tally() for system in spec.systems}
    ids = spec.match_ids
    try:
        for round_no in range(spec.warmup_jobs + spec.jobs):
            shift = round_no % len(spec.systems)
            order = [*spec.systems[shift:], *spec.systems[:shift]]
            timed = round_no >= spec.warmup_jobs
            for system in order:
                await _one(clients[system], ids[round_no % len(ids)], tallies[system], timed)
    finally:
        for client in clients.values():
            await client.close()
        await factory.close()
    return {
        "systems": {system: _summary(t) for system, t in tallies.items()},
        "frames_per_subscription": _frames(list(clients.values()), tallies.get(SUBSCRIPTION)),
    }


def _frames(clients: list[Client], tally: Tally | None) -> float | None:
    """`next` frames per subscription: QUEUED, IN_PROGRESS, COMPLETE as the client saw them."""
    subscribers = [c for c in clients if isinstance(c, SubscriptionClient)]
    if not subscribers or tally is None or not tally.ok:
        return None
    return sum(c.frames for c in subscribers) / (tally.ok + tally.bad)


async def burst(spec: LiveSpec) -> dict[str, Any]:
    [system] = spec.systems
    factory = Factory(spec)
    clients = [await factory.open(system) for _ in range(spec.clients)]
    tally = Tally()
    ids = spec.match_ids
    counter = itertools.count()
    begin = time.perf_counter()
    measure_from = begin + spec.warmup_seconds
    end = measure_from + spec.seconds
    cpu_used: dict[str, float] = {}

    async def mark_cpu() -> None:
        """CPU time of every watched process (and this one) over the timed window exactly."""
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        start = cpu_now(spec.watch)
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu_used.update(cpu_since(start, spec.watch))

    async def run_client(client: Client) -> None:
        while (started := time.perf_counter()) < end:
            match_id = ids[next(counter) % len(ids)]
            await _one(client, match_id, tally, started >= measure_from)

    try:
        await asyncio.gather(mark_cpu(), *(run_client(c) for c in clients))
    finally:
        for client in clients:
            await client.close()
        await factory.close()
    in_window = sum(measure_from <= t <= end for t in tally.finished_at)
    return {
        "system": system,
        "clients": spec.clients,
        "window_s": spec.seconds,
        "completed_in_window": in_window,
        "jobs_per_s": in_window / spec.seconds if spec.seconds else math.nan,
        "all_jobs": tally.ok + tally.bad,
        "tail_s": time.perf_counter() - end,
        "window_cpu_s": cpu_used,
        "frames_per_subscription": _frames(clients, tally),
        **_summary(tally),
    }


MODES: dict[str, Callable[[LiveSpec], Coroutine[Any, Any, dict[str, Any]]]] = {
    "sequential": sequential,
    "burst": burst,
}


def main(argv: list[str]) -> int:
    spec = LiveSpec(**json.loads(argv[0]))
    result = uvloop.run(MODES[spec.mode](spec))
    result["spec"] = {k: v for k, v in asdict(spec).items() if k != "match_ids"}
    print(RESULT_PREFIX + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
