"""The API's connection to the task queue: an arq client and one task-event subscription."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from api import metrics
from graph.settings import Settings
from jobs.client import TaskClient, arq_redis, pubsub_redis
from jobs.events import TaskEventHub


@dataclass
class TaskQueue:
    client: TaskClient
    hub: TaskEventHub
    name: str = "redis"

    def problems(self) -> list[str]:
        """What /ready and health report; a failing Redis degrades, it never makes us unready."""
        if self.hub.connected.is_set():
            return []
        return ["redis: unreachable, live predictions unavailable"]


@contextlib.asynccontextmanager
async def open_task_queue(settings: Settings) -> AsyncIterator[TaskQueue]:
    """Opened in the lifespan; nothing here blocks start-up when Redis is down."""
    redis = arq_redis(settings.redis_url)
    hub = TaskEventHub(lambda: pubsub_redis(settings.redis_url))
    hub.start()
    try:
        client = TaskClient(redis, hub, on_enqueue=metrics.task_enqueued)
        yield TaskQueue(client=client, hub=hub)
    finally:
        await hub.stop()
        await redis.aclose(close_connection_pool=True)
