"""The API's connection to the task queue: an arq client, the process's one pub/sub
subscription (task events, and any other channel the lifespan follows) and a watch
on the workers' heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from api import metrics
from graph.settings import Settings
from graph.taskqueue.background import BackgroundLoop
from graph.taskqueue.client import TaskClient, arq_redis, pubsub_redis
from graph.taskqueue.errors import QueueUnavailable
from graph.taskqueue.events import TaskEventHub
from graph.taskqueue.pubsub import ChannelListener, PubSubHub

log = logging.getLogger(__name__)

WORKER_CHECK_SECONDS = 2.0  # how often the heartbeats are re-read (a worker beats every 5 s)


class WorkerWatch:
    """Which queues no live worker heartbeats on: a health check of its own (`workers`).

    Without it a dead worker is silent: jobs wait in QUEUED while /health says ok.
    The heartbeats are re-read every few seconds, so /health and /ready stay free.
    """

    name = "workers"

    def __init__(
        self, client: TaskClient, queues: Mapping[str, str], *, every: float = WORKER_CHECK_SECONDS
    ) -> None:
        self._client = client
        self._queues = dict(queues)  # full queue name by kind (`short`, `long`)
        self._every = every
        self._unserved: list[str] = []  # kinds, as last read; unknown (empty) without Redis
        self._loop = BackgroundLoop(self.run, "worker-watch")

    def problems(self) -> list[str]:
        return [f"workers: no live worker heartbeating on queue {kind}" for kind in self._unserved]

    async def check(self) -> None:
        try:
            async with asyncio.timeout(self._every + 5):
                workers = await self._client.workers()
        except (QueueUnavailable, TimeoutError):
            self._unserved = []  # unknown: the `redis` check reports Redis itself
            return
        served = {worker.queue for worker in workers if worker.alive}
        unserved = [kind for kind, queue in self._queues.items() if queue not in served]
        if unserved != self._unserved:
            log.log(
                logging.WARNING if unserved else logging.INFO,
                "queues without a live worker: %s",
                ", ".join(unserved) or "none",
            )
        self._unserved = unserved

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # a bug here must not freeze the report silently
                log.exception("worker watch failed")
                self._unserved = []
            await asyncio.sleep(self._every)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


@dataclass
class TaskQueue:
    client: TaskClient
    hub: TaskEventHub
    workers: WorkerWatch
    pubsub: PubSubHub
    name: str = "redis"

    def problems(self) -> list[str]:
        """What /ready and health report; a failing Redis degrades, it never makes us unready."""
        if self.hub.connected.is_set():
            return []
        return ["redis: unreachable, live predictions unavailable"]


NO_CHANNELS: Mapping[str, ChannelListener] = MappingProxyType({})


@contextlib.asynccontextmanager
async def open_task_queue(
    settings: Settings, *, channels: Mapping[str, ChannelListener] = NO_CHANNELS
) -> AsyncIterator[TaskQueue]:
    """Opened in the lifespan; nothing here blocks start-up when Redis is down.

    `channels`: more pub/sub channels to follow on the process's one subscription,
    each with its listener (e.g. live-score changes).
    """
    names = settings.redis_names
    redis = arq_redis(settings.redis_url, names)
    pubsub = PubSubHub(lambda: pubsub_redis(settings.redis_url))
    hub = TaskEventHub(pubsub, names.task_events_channel)
    for channel, listener in channels.items():
        pubsub.listen(channel, listener)
    pubsub.start()
    client = TaskClient(redis, hub, names=names, on_enqueue=metrics.task_enqueued)
    workers = WorkerWatch(client, names.queues)
    workers.start()
    try:
        yield TaskQueue(client=client, hub=hub, workers=workers, pubsub=pubsub)
    finally:
        await workers.stop()
        await pubsub.stop()
        await redis.aclose(close_connection_pool=True)
