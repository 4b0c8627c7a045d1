"""Worker heartbeats: each worker writes its own key, so several can be listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis

from graph.taskqueue.names import WORKER_HEALTH_INTERVAL_SECONDS, RedisNames


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queue: str
    alive: bool
    last_heartbeat: datetime | None
    jobs_complete: int | None
    jobs_failed: int | None
    jobs_ongoing: int | None
    predictions: int | None = None
    model_calls: int | None = None
    live_threads: int | None = None
    batch_threads: int | None = None


def health_key(names: RedisNames, queue: str, worker_name: str) -> str:
    return f"{names.worker_health_prefix}{queue}:{worker_name}"


async def list_workers(redis: Redis, names: RedisNames, *, now: datetime) -> list[WorkerInfo]:
    """The heartbeats of `names`' namespace (a namespace has no glob characters)."""
    prefix = names.worker_health_prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
    values = await redis.mget(keys) if keys else []
    workers = [
        _parse(key.decode().removeprefix(prefix), value, now)
        for key, value in zip(keys, values, strict=True)
    ]
    return sorted((w for w in workers if w is not None), key=lambda w: (w.queue, w.name))


def _parse(key: str, value: bytes | None, now: datetime) -> WorkerInfo | None:
    """`key` without the heartbeat prefix: queue + ":" + worker name."""
    if value is None:
        return None
    queue, _, name = key.rpartition(":")
    try:
        data = orjson.loads(value)
        beat = datetime.fromisoformat(data["at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return WorkerInfo(name, queue, False, None, None, None, None)
    age = (now - beat).total_seconds()
    return WorkerInfo(
        name=name,
        queue=queue,
        alive=age <= 2 * WORKER_HEALTH_INTERVAL_SECONDS,
        last_heartbeat=beat,
        jobs_complete=data.get("complete"),
        jobs_failed=data.get("failed"),
        jobs_ongoing=data.get("ongoing"),
        predictions=data.get("predictions"),
        model_calls=data.get("model_calls"),
        live_threads=data.get("live_threads"),
        batch_threads=data.get("batch_threads"),
    )


def health_payload(
    *,
    complete: int,
    failed: int,
    ongoing: int,
    queued: int,
    predictions: int | None = None,
    model_calls: int | None = None,
    live_threads: int | None = None,
    batch_threads: int | None = None,
) -> bytes:
    """A worker's heartbeat; `live_threads`/`batch_threads`: OpenMP threads of its model calls."""
    return orjson.dumps(
        {
            "at": datetime.now(UTC).isoformat(),
            "complete": complete,
            "failed": failed,
            "ongoing": ongoing,
            "queued": queued,
            "predictions": predictions,
            "model_calls": model_calls,
            "live_threads": live_threads,
            "batch_threads": batch_threads,
        }
    )
