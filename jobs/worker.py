"""The arq worker process: one Worker per queue, models loaded once, pushed wake-ups.

arq polls its queue every `poll_delay`; a naive port answers in a quarter to a
whole second. `PushWorker` instead sleeps on a Redis pub/sub wake-up that
the API publishes after each enqueue, and polls only as a fallback, so a job
starts within milliseconds while an idle worker costs Redis next to nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from arq import func
from arq.connections import RedisSettings
from arq.worker import Function, Worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.settings import Settings
from graph.sources.livescores import open_live_scores
from jobs import events
from jobs.batch import batch_inference
from jobs.client import arq_redis, pubsub_redis
from jobs.constants import (
    QUEUES,
    RESULT_TTL_SECONDS,
    SHORT_QUEUE,
    TASK_EVENTS_CHANNEL,
    TASK_STARTED_PREFIX,
    WAKE_CHANNEL_PREFIX,
    WORKER_HEALTH_INTERVAL_SECONDS,
)
from jobs.ingest import ingest_fonbet_odds, ingest_livescores
from jobs.predict import model_info, predict_features, predict_match
from jobs.registry import quiet_feature_name_warning
from jobs.resources import WorkerResources, build_resources
from jobs.serializer import dumps, loads
from jobs.threads import limit_live_threads, model_threads
from jobs.workers_info import health_key, health_payload

log = logging.getLogger(__name__)
JobFunction = Callable[..., Coroutine[Any, Any, Any]]


class PushWorker(Worker):
    """An arq Worker woken by pub/sub when work arrives; polls only every `idle_poll`."""

    def __init__(
        self,
        *,
        idle_poll: float,
        wake_redis: Redis,
        prediction_counts: Callable[[], tuple[int, int]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poll_delay=0, **kwargs)
        self.idle_poll = idle_poll
        self._prediction_counts = prediction_counts
        self._wake = asyncio.Event()
        self._wake_redis = wake_redis
        self._listener: asyncio.Task[None] | None = None

    async def _poll_iteration(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name=f"wake:{self.queue_name}")
        self._wake.clear()  # before polling: a wake-up during the poll is not lost
        await super()._poll_iteration()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.idle_poll)

    async def _listen(self) -> None:
        channel = WAKE_CHANNEL_PREFIX + (self.queue_name or "")
        while True:
            try:
                async with self._wake_redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except (RedisError, OSError) as exc:
                log.warning("wake-ups on %s lost (%s); polling meanwhile", channel, exc)
                await asyncio.sleep(1)

    def running_jobs(self) -> int:
        return sum(not t.done() for t in self.tasks.values())

    def has_company(self) -> bool:
        """Two or more other jobs run: more are coming (a lone client's previous job may
        still be writing its result, so one other job is no sign of load)."""
        return self.running_jobs() > 2

    async def record_health(self) -> None:
        now = time.time()
        if now - self._last_health_check < self.health_check_interval:
            return
        self._last_health_check = now
        predictions, model_calls = (
            self._prediction_counts() if self._prediction_counts else (None, None)
        )
        payload = health_payload(
            complete=self.jobs_complete,
            failed=self.jobs_failed,
            ongoing=self.running_jobs(),
            queued=await self.pool.zcard(self.queue_name),
            predictions=predictions,
            model_calls=model_calls,
            threads=self.ctx["resources"].threads,
        )
        ttl_ms = int((self.health_check_interval * 2 + 1) * 1000)
        await self.pool.psetex(self.health_check_key, ttl_ms, payload)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await super().close()


async def _on_job_start(ctx: dict[str, Any]) -> None:
    redis = ctx["redis"]
    job_id = ctx["job_id"]
    started_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(TASK_STARTED_PREFIX + job_id, started_ms, ex=RESULT_TTL_SECONDS)
        message = events.event_message(job_id, events.STARTED, started_ms=started_ms)
        pipe.publish(TASK_EVENTS_CHANNEL, message)
        await pipe.execute()
    delay = ctx["resources"].settings.job_delay_seconds
    if delay:  # failure drills only: keeps a job in progress long enough to kill its worker
        await asyncio.sleep(delay)


async def _after_job_end(ctx: dict[str, Any]) -> None:
    await events.publish(ctx["redis"], ctx["job_id"], events.ENDED)


def _functions(queue: str, settings: Settings) -> list[Function]:
    if queue == SHORT_QUEUE:
        base: list[JobFunction] = [predict_match, predict_features, model_info]
        timeout = settings.short_job_timeout
    else:
        base = [batch_inference, ingest_livescores, ingest_fonbet_odds]
        timeout = settings.long_job_timeout
    return [func(f, timeout=timeout, max_tries=3) for f in base]


def build_worker(
    queue: str, settings: Settings, resources: WorkerResources, *, burst: bool = False
) -> PushWorker:
    name = f"{socket.gethostname()}-{os.getpid()}"
    live = queue == SHORT_QUEUE  # live predictions: counted, and batched while it is busy
    worker = PushWorker(
        functions=_functions(queue, settings),
        queue_name=queue,
        redis_pool=arq_redis(settings.redis_url),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        wake_redis=pubsub_redis(settings.redis_url),
        idle_poll=settings.worker_idle_poll,
        prediction_counts=resources.prediction_counts if live else None,
        burst=burst,
        handle_signals=False,
        ctx={"resources": resources},
        on_job_start=_on_job_start,
        after_job_end=_after_job_end,
        keep_result=RESULT_TTL_SECONDS,
        max_jobs=settings.worker_max_jobs,
        health_check_interval=WORKER_HEALTH_INTERVAL_SECONDS,
        health_check_key=health_key(queue, name),
        job_serializer=dumps,
        job_deserializer=loads,
    )
    if live:
        resources.batch_while(worker.has_company)
    return worker


async def run_workers(settings: Settings, queues: list[str], *, burst: bool = False) -> None:
    """Run one worker per queue in this process until SIGTERM/SIGINT (or, in burst, idle)."""
    quiet_feature_name_warning()
    resources = await asyncio.to_thread(build_resources, settings)
    # Live predictions run on this (the event loop's) thread, a few rows per call: extra
    # OpenMP threads only spin. The limit binds only a loaded runtime and only this
    # thread, so it comes after the models loaded; batch inference (in a worker thread)
    # keeps every core. See jobs.threads.
    limit_live_threads(settings.worker_model_threads)
    resources.threads = await model_threads()
    log.info(
        "model threads: live predictions %s, batch inference %s",
        resources.threads.live,
        resources.threads.batch,
    )
    await resources.sources.refresh()  # the first job must not pay for loading features
    async with open_live_scores(settings) as livescores:
        resources.livescores = livescores
        workers = [build_worker(QUEUES[q], settings, resources, burst=burst) for q in queues]
        runs = [asyncio.create_task(w.async_run()) for w in workers]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: [r.cancel() for r in runs])
        try:
            await asyncio.gather(*runs)
        except asyncio.CancelledError:
            log.info("worker stopping")
        finally:
            for worker in workers:
                await worker.close()
            await resources.close()
