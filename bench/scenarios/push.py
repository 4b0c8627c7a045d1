"""push: ingest-to-push latency of `subscription liveScoreUpdates`.

A stack of its own: a redis-server on a free loopback port (no persistence) and
our API (`ours`, one uvicorn process) on a fresh SQLite live-score database in
the work dir. The harness is the writer: it upserts live-score rows through
`LiveScoreRepository` with the worker's publisher as its `on_change` hook (the
very path of the ingestion job after parsing), and stamps the moment the
upsert's transaction committed (the hook is called right after the commit).
Its clients (graphql-transport-ws, one connection each, in the harness's event
loop) stamp each pushed frame as it arrives; latency = arrival - commit.

Per fan-out (`subscribers` clients following the hot match, plus as many
following other matches, which must receive nothing): `rounds` changes of the
hot match, one at a time, each awaited by every follower before the next.
Reported per delivery (every follower of every round) and per round as seen by
the last follower.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import websockets

from bench.scenarios.live import _wait, redis_binary
from bench.stats import percentile
from bench.systems import HOST, BenchError, Servers, System, free_port, ours
from graph.settings import Settings
from graph.sources.livescore_models import LiveScoreRow
from graph.sources.livescores import LiveScoreRepository, open_live_scores
from graph.taskqueue.livescore_events import LiveScorePublisher, open_live_score_publisher

FANOUTS = (1, 50)
QUICK_FANOUTS = (1, 10)
ROUNDS = 200
QUICK_ROUNDS = 20
PAUSE_SECONDS = 0.02  # between rounds
UNTIL_SECONDS = 30.0  # a change not pushed to every follower by then fails the run
HOT = 990_500_000  # the followed match (made up: no catalogue match needed)
QUERY = """subscription($ids: [Int!]!) {
  liveScoreUpdates(matchIds: $ids) { matchId homeScore awayScore } }"""


def _row(match_id: int, home: int) -> LiveScoreRow:
    return LiveScoreRow(
        match_id=match_id,
        start_time_utc=datetime(2031, 1, 4, 15, tzinfo=UTC),
        home_team_name=f"Home {match_id}",
        away_team_name=f"Away {match_id}",
        home_score=home,
        away_score=0,
        status="live",
    )


class Client:
    """One WebSocket, one subscription; the arrival time of each pushed home score."""

    def __init__(self, url: str, match_id: int) -> None:
        self.url, self.match_id = url, match_id
        self.arrivals: dict[int, float] = {}
        self.other = 0  # frames about other matches (must stay 0)
        self.errors: list[Any] = []
        self.changed = asyncio.Event()

    async def run(self, ready: asyncio.Event) -> None:
        async with websockets.connect(self.url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()
            payload = {"query": QUERY, "variables": {"ids": [self.match_id]}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            ready.set()
            async for message in ws:
                arrived = time.perf_counter()
                frame = json.loads(message)
                if frame.get("type") != "next":
                    self.errors.append(frame)
                    continue
                data = frame["payload"].get("data") or {}
                score = data.get("liveScoreUpdates")
                if score is None:
                    self.errors.append(frame["payload"])
                elif score["matchId"] != self.match_id:
                    self.other += 1
                else:
                    self.arrivals[score["homeScore"]] = arrived
                    self.changed.set()


class StampedPublisher:
    """The worker's publisher, stamping each commit first (the hook runs right after it)."""

    def __init__(self, publisher: LiveScorePublisher) -> None:
        self.publisher = publisher
        self.committed: dict[int, float] = {}

    async def __call__(self, rows: Sequence[LiveScoreRow]) -> None:
        now = time.perf_counter()
        for row in rows:
            if row.home_score is not None:
                self.committed[row.home_score] = now
        await self.publisher(rows)


async def _until(clients: list[Client], score: int) -> None:
    async with asyncio.timeout(UNTIL_SECONDS):
        for client in clients:
            while score not in client.arrivals:
                client.changed.clear()
                await client.changed.wait()


async def _fanout(
    url: str, repository: LiveScoreRepository, stamps: StampedPublisher, n: int, rounds: int
) -> dict[str, Any]:
    base = 1_000 * n  # a score range of this fan-out's own
    followers = [Client(url, HOT) for _ in range(n)]
    bystanders = [Client(url, HOT + 1 + i) for i in range(n)]
    clients = followers + bystanders
    readies = [asyncio.Event() for _ in clients]
    tasks = [asyncio.create_task(c.run(r)) for c, r in zip(clients, readies, strict=True)]
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(r.wait() for r in readies))
        await repository.upsert([_row(HOT, base)])  # every follower is subscribed: warm up
        await _until(followers, base)
        deliveries, last = [], []
        for i in range(1, rounds + 1):
            await asyncio.sleep(PAUSE_SECONDS)
            await repository.upsert([_row(HOT, base + i)])
            await _until(followers, base + i)
            committed = stamps.committed[base + i]
            times = [1000 * (c.arrivals[base + i] - committed) for c in followers]
            deliveries += times
            last.append(max(times))
        await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    errors = [e for c in clients for e in c.errors]
    if errors:
        raise BenchError(f"push: unexpected frames: {errors[:3]}")
    stray = sum(c.other for c in clients) + sum(len(c.arrivals) for c in bystanders)
    if stray:
        raise BenchError(f"push: {stray} frame(s) reached a subscriber of other matches")
    return {"subscribers": n, "bystanders": n, "rounds": rounds, **_summary(deliveries),
            "last_follower": _summary(last)}  # fmt: skip


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
    }


async def _measure(
    url: str, settings: Settings, fanouts: Sequence[int], rounds: int
) -> dict[str, Any]:
    async with open_live_score_publisher(settings) as publisher:
        stamps = StampedPublisher(publisher)
        async with open_live_scores(settings, on_change=stamps) as repository:
            return {str(n): await _fanout(url, repository, stamps, n, rounds) for n in fanouts}


def run(data_dir: Path, work_dir: Path, *, quick: bool = False) -> dict[str, Any]:
    fanouts = QUICK_FANOUTS if quick else FANOUTS
    rounds = QUICK_ROUNDS if quick else ROUNDS
    database = work_dir / "push" / "livescores.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    database_url = f"sqlite+aiosqlite:///{database}"
    port = free_port()
    redis_url = f"redis://{HOST}:{port}/0"
    with Servers(work_dir / "logs" / "push") as servers:
        command = [redis_binary(), "--port", str(port), "--bind", HOST, "--save", ""]
        store = servers.spawn(System("redis", command[0]), [*command, "--appendonly", "no"])
        control = redis.Redis.from_url(redis_url)
        try:
            _wait("redis-server", store, control.ping)
        finally:
            control.close()
        system = ours(data_dir, redis_url=redis_url)
        system = replace(system, env={**system.env, "MATCHGRAPH_DATABASE_URL": database_url})
        api = servers.start(system)
        servers.wait_ready(api)
        settings = Settings(data_dir=data_dir, redis_url=redis_url, database_url=database_url)
        ws_url = api.url.replace("http://", "ws://") + "/graphql"
        fanout = asyncio.run(_measure(ws_url, settings, fanouts, rounds))
    return {
        "setup": {
            "database": "sqlite (the harness writes, the API reads the initial state)",
            "redis_binary": command[0],
            "pause_between_rounds_s": PAUSE_SECONDS,
        },
        "fanout": fanout,
    }


def render(r: dict[str, Any]) -> list[str]:
    lines = [
        "push: liveScoreUpdates, upsert commit -> frame at the client (ms)",
        f"  {'followers':<12}{'rounds':>8}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}"
        f"{'last p50':>10}{'last p99':>10}",
    ]
    for n, f in r["fanout"].items():
        last = f["last_follower"]
        lines.append(
            f"  {n:<12}{f['rounds']:>8}{f['p50_ms']:>8.2f}{f['p90_ms']:>8.2f}"
            f"{f['p99_ms']:>8.2f}{f['max_ms']:>8.2f}{last['p50_ms']:>10.2f}{last['p99_ms']:>10.2f}"
        )
    return lines
