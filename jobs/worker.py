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
from arq.worker import Function
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.settings import Settings
from graph.sources.livescores import open_live_scores
from graph.taskqueue import events
from graph.taskqueue.arq_internals import WorkerBase, in_progress_key
from graph.taskqueue.client import arq_redis, pubsub_redis
from graph.taskqueue.livescore_events import open_live_score_publisher
from graph.taskqueue.names import RESULT_TTL_SECONDS, WORKER_HEALTH_INTERVAL_SECONDS, RedisNames
from graph.taskqueue.serializer import dumps, loads
from graph.taskqueue.workers import health_key, health_payload
from jobs.batch import batch_inference
from jobs.ingest import ingest_fonbet_odds, ingest_livescores
from jobs.predict import model_info, predict_features, predict_match
from jobs.registry import quiet_feature_name_warning
from jobs.resources import WorkerResources, build_resources
from jobs.threads import limit_live_threads, model_threads

log = logging.getLogger(__name__)
JobFunction = Callable[..., Coroutine[Any, Any, Any]]


# What a Redis that went away raises: connection refused/reset, timeouts, a server still
# loading its data, or refusing writes. None of it may end the worker.
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError)
RECONNECT_FIRST_SECONDS = 0.1  # first pause after losing Redis, doubled per failed attempt...
RECONNECT_MAX_SECONDS = 5.0  # ...up to this
# A worker that stops heartbeating stays listed (alive: false) this long, so `workers`
# shows that one died instead of going silent; its heartbeat's age, not the key, says alive.
DEAD_WORKER_LISTED_SECONDS = 600


class RedisLink:
    """The worker process's view of Redis, shared by every queue's loop and wake-up listener.

    Each part that fails says so; the log gets one line when the first part loses
    Redis and one when the last part has it back, not a line per retry.
    """

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._lost_at = 0.0
        self._progress = asyncio.Event()

    def lost(self, part: str, exc: BaseException) -> None:
        if not self._down:
            self._lost_at = time.monotonic()
            log.warning(
                "Redis lost (%s: %s): no jobs taken and no heartbeats until it is back; "
                "reconnecting every %.1f-%.0f s",
                part,
                _describe(exc),
                RECONNECT_FIRST_SECONDS,
                RECONNECT_MAX_SECONDS,
            )
        self._down.add(part)

    def back(self, part: str) -> None:
        if part not in self._down:
            return
        self._down.discard(part)
        self._progress.set()  # the others retry now instead of at the end of their pause
        self._progress = asyncio.Event()
        if not self._down:
            log.info(
                "Redis is back after %.1f s: taking jobs and heartbeating again",
                time.monotonic() - self._lost_at,
            )

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when another part reached Redis meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), seconds)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class PushWorker(WorkerBase):
    """An arq Worker woken by pub/sub when work arrives; polls only every `idle_poll`.

    It outlives Redis: arq's loop lets a lost connection escape (and the process
    exit); here any Redis failure pauses the loop, which reconnects with a capped
    backoff and goes on (`run_loop`). A job cut off by the outage does not crash the
    worker either (`run_one_job`): it is queued again as soon as Redis is back.
    """

    def __init__(
        self,
        *,
        idle_poll: float,
        wake_redis: Redis,
        wake_channel: str,
        prediction_counts: Callable[[], tuple[int, int]] | None = None,
        link: RedisLink | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poll_delay=0, **kwargs)
        self.idle_poll = idle_poll
        self._prediction_counts = prediction_counts
        self._wake = asyncio.Event()
        self._wake_redis = wake_redis
        self._wake_channel = wake_channel
        self._listener: asyncio.Task[None] | None = None
        self.link = link or RedisLink()
        self._part = f"queue {self.queue_name}"
        # jobs whose run Redis cut off: job id -> when we marked them in progress
        self._interrupted: dict[str, float] = {}

    async def run_loop(self) -> None:
        """arq's run loop (`Worker.main`), with every Redis failure waited out.

        A failed iteration marks this queue's part of the link down; while down,
        each turn first pings Redis (pausing 0.1 s, doubling to 5 s, between tries),
        then heartbeats at once. Jobs an outage cut off are requeued first thing.
        """
        log.info("worker on %s: %s", self.queue_name, ", ".join(self.functions))
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        self._listener = asyncio.create_task(self._listen(), name=f"wake:{self.queue_name}")
        down, pause = False, RECONNECT_FIRST_SECONDS
        while True:
            try:
                if down:
                    await self.pool.ping()
                    self.last_heartbeat = 0  # the heartbeat lapsed: write it now
                    down, pause = False, RECONNECT_FIRST_SECONDS
                    self.link.back(self._part)
                if self._interrupted:
                    await self._requeue_interrupted()
                await self.poll_once()
                if self.burst and await self._burst_done():
                    return
            except REDIS_DOWN as exc:
                if not down:
                    down = True
                    self.link.lost(self._part, exc)
                else:
                    pause = min(pause * 2, RECONNECT_MAX_SECONDS)
                await self.link.pause(pause)

    async def _burst_done(self) -> bool:
        """arq's burst exit: the job budget is spent or the queue is empty (then wait)."""
        if 0 <= self.max_burst_jobs <= self.jobs_started() or not await self.pool.zcard(
            self.queue_name
        ):
            await asyncio.gather(*self.tasks.values())
            return True
        return False

    async def poll_once(self) -> None:
        self._wake.clear()  # before polling: a wake-up during the poll is not lost
        await super().poll_once()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.idle_poll)

    async def start_ready_jobs(self, job_ids: list[bytes]) -> None:
        """arq's `start_jobs`, one id at a time, giving back the slot a Redis failure leaks.

        arq takes a slot (semaphore and job counter) before marking the job in
        progress and frees it only when the job's task ends: if marking fails, no
        task exists and the slot would be lost for good, one per outage.
        """
        for job_id in job_ids:
            previous = self.tasks.get(job_id.decode())
            try:
                await super().start_ready_jobs([job_id])
            except REDIS_DOWN:
                if self.tasks.get(job_id.decode()) is previous:  # taken, never started
                    self.release_slot()
                raise
            if self.job_counter >= self.max_jobs:
                return

    async def run_one_job(self, job_id: str, score: int) -> None:
        """arq's `run_job`; when Redis goes away mid-job the job is requeued, not raised.

        arq raises from its bookkeeping (reading the job, our start event, storing
        the result), which would end the loop. The job's in-progress mark would then
        hold it back until it expires (the longest timeout + 10 s): once Redis is
        back, `_requeue_interrupted` lifts the mark so that any worker runs it again.
        """
        marked = time.monotonic()  # start_jobs marked it in progress just before this task
        try:
            await super().run_one_job(job_id, score)
        except REDIS_DOWN as exc:
            self._interrupted[job_id] = marked
            log.info(
                "job %s cut off by Redis (%s): it runs again when Redis returns",
                job_id,
                _describe(exc),
            )

    async def _requeue_interrupted(self) -> None:
        interrupted, self._interrupted = self._interrupted, {}
        # Only marks that are still ours: an expired one may since be another worker's.
        horizon = time.monotonic() - self.in_progress_timeout_s + 1
        ours = [job_id for job_id, marked in interrupted.items() if marked > horizon]
        if not ours:
            return
        try:
            await self.pool.delete(*(in_progress_key(job_id) for job_id in ours))
        except REDIS_DOWN:
            self._interrupted.update(interrupted)
            raise
        log.info("%d job(s) cut off by the outage queued again", len(ours))
        self._wake.set()

    async def _listen(self) -> None:
        """Wake-ups for this queue, re-subscribed after a lost connection (polling meanwhile)."""
        part, pause = f"wake-ups {self._wake_channel}", RECONNECT_FIRST_SECONDS
        while True:
            try:
                async with self._wake_redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._wake_channel)
                    self.link.back(part)
                    pause = RECONNECT_FIRST_SECONDS
                    self._wake.set()  # jobs may have been enqueued while we were away
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except REDIS_DOWN as exc:
                self.link.lost(part, exc)
            await self.link.pause(pause)
            pause = min(pause * 2, RECONNECT_MAX_SECONDS)

    def running_jobs(self) -> int:
        return sum(not t.done() for t in self.tasks.values())

    def has_company(self) -> bool:
        """Two or more other jobs run: more are coming (a lone client's previous job may
        still be writing its result, so one other job is no sign of load)."""
        return self.running_jobs() > 2

    async def write_heartbeat(self) -> None:
        now = time.time()
        if now - self.last_heartbeat < self.health_check_interval:
            return
        predictions, model_calls = (
            self._prediction_counts() if self._prediction_counts else (None, None)
        )
        threads = self.ctx["resources"].threads
        payload = health_payload(
            complete=self.jobs_complete,
            failed=self.jobs_failed,
            ongoing=self.running_jobs(),
            queued=await self.pool.zcard(self.queue_name),
            predictions=predictions,
            model_calls=model_calls,
            live_threads=threads.live if threads else None,
            batch_threads=threads.batch if threads else None,
        )
        await self.pool.psetex(self.health_check_key, DEAD_WORKER_LISTED_SECONDS * 1000, payload)
        self.last_heartbeat = now  # only once written: a failed beat is retried

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        try:
            await super().close()
        except REDIS_DOWN as exc:  # stopping while Redis is away: the heartbeat just ages
            log.warning("%s stopped without Redis (%s)", self.queue_name, _describe(exc))
            await self.drop_pool()
        await self._wake_redis.aclose()


async def _on_job_start(ctx: dict[str, Any]) -> None:
    redis = ctx["redis"]
    job_id = ctx["job_id"]
    names: RedisNames = ctx["names"]
    started_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(names.task_started_key(job_id), started_ms, ex=RESULT_TTL_SECONDS)
        message = events.event_message(job_id, events.STARTED, started_ms=started_ms)
        pipe.publish(names.task_events_channel, message)
        await pipe.execute()
    delay = ctx["resources"].settings.job_delay_seconds
    if delay:  # failure drills only: keeps a job in progress long enough to kill its worker
        await asyncio.sleep(delay)


async def _after_job_end(ctx: dict[str, Any]) -> None:
    channel = ctx["names"].task_events_channel
    await events.publish(ctx["redis"], channel, ctx["job_id"], events.ENDED)


def _functions(queue: str, settings: Settings) -> list[Function]:
    if queue == settings.redis_names.short_queue:
        base: list[JobFunction] = [predict_match, predict_features, model_info]
        timeout = settings.short_job_timeout
    else:
        base = [batch_inference, ingest_livescores, ingest_fonbet_odds]
        timeout = settings.long_job_timeout
    return [func(f, timeout=timeout, max_tries=3) for f in base]


def build_worker(
    queue: str,
    settings: Settings,
    resources: WorkerResources,
    *,
    burst: bool = False,
    link: RedisLink | None = None,
) -> PushWorker:
    name = f"{socket.gethostname()}-{os.getpid()}"
    names = settings.redis_names
    live = queue == names.short_queue  # live predictions: counted, and batched while it is busy
    worker = PushWorker(
        functions=_functions(queue, settings),
        queue_name=queue,
        redis_pool=arq_redis(settings.redis_url, names),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        wake_redis=pubsub_redis(settings.redis_url),
        wake_channel=names.wake_channel(queue),
        idle_poll=settings.worker_idle_poll,
        prediction_counts=resources.prediction_counts if live else None,
        link=link,
        burst=burst,
        handle_signals=False,
        ctx={"resources": resources, "names": names},
        on_job_start=_on_job_start,
        after_job_end=_after_job_end,
        keep_result=RESULT_TTL_SECONDS,
        max_jobs=settings.worker_max_jobs,
        health_check_interval=WORKER_HEALTH_INTERVAL_SECONDS,
        health_check_key=health_key(names, queue, name),
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
    # Every live-score change an ingestion commits is announced on Redis (API subscriptions).
    async with (
        open_live_score_publisher(settings) as publisher,
        open_live_scores(settings, on_change=publisher) as livescores,
    ):
        resources.livescores = livescores
        queue_names = settings.redis_names.queues
        link = RedisLink()  # one view of Redis for the process: one log line per outage
        workers = [
            build_worker(queue_names[q], settings, resources, burst=burst, link=link)
            for q in queues
        ]
        runs = [asyncio.create_task(w.async_run()) for w in workers]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: [r.cancel() for r in runs])
        try:
            await asyncio.gather(*runs)
        except asyncio.CancelledError:
            log.info("worker stopping")
        finally:
            await finish_running_jobs(workers, settings.drain_seconds)
            for worker in workers:
                await worker.close()
            await resources.close()


async def finish_running_jobs(workers: list[PushWorker], within: float) -> None:
    """SIGTERM's drain: no new job starts (the run loops are cancelled); running ones get
    `within` seconds (MATCHGRAPH_DRAIN_SECONDS) to finish.

    arq's `close()` then cancels what still runs (`handle_sig`), and arq's `run_job`
    takes a cancelled job as "cancelled, will be run again": the job is put back on
    its queue (counting a try) for another worker. Without this wait a live prediction
    that was a few milliseconds from done would be handed back too.
    """
    running = [t for w in workers for t in w.tasks.values() if not t.done()]
    if not running:
        return
    log.info("waiting up to %.0f s for %d running job(s)", within, len(running))
    _, left = await asyncio.wait(running, timeout=within)
    if left:
        log.info("%d job(s) still running: handed back to their queue", len(left))
