"""ONE Redis pub/sub connection per process, shared by every channel the process follows.

Each channel has one listener (task events, live-score changes, ...) that fans
its messages out to its own waiters. A listener is told when the subscription
comes up (first time and after every reconnect: what was published meanwhile
is unknown, so it re-reads what it needs) and when it is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.taskqueue.background import BackgroundLoop

log = logging.getLogger(__name__)


class ChannelListener(Protocol):
    """What the hub tells the one listener of a channel (all on the event loop, never awaited)."""

    def on_message(self, data: bytes) -> None:
        """A message published on the channel."""

    def on_subscribed(self) -> None:
        """Subscribed (first time or again): messages published while away were missed."""

    def on_lost(self) -> None:
        """The subscription was lost; the hub retries every `retry_seconds`."""


class PubSubHub:
    """Follows every registered channel on one pub/sub connection, reconnecting forever."""

    def __init__(self, redis_factory: Callable[[], Redis], *, retry_seconds: float = 1.0) -> None:
        self._redis_factory = redis_factory
        self._retry_seconds = retry_seconds
        self._listeners: dict[str, ChannelListener] = {}
        self._loop = BackgroundLoop(self._run, "pubsub")
        self._started = False
        self.connected = asyncio.Event()

    def listen(self, channel: str, listener: ChannelListener) -> None:
        """Register the listener of `channel`; before `start` (one SUBSCRIBE for all)."""
        if self._started:
            raise RuntimeError("register every channel before the hub starts")
        if channel in self._listeners:
            raise ValueError(f"{channel} has a listener already")
        self._listeners[channel] = listener

    @property
    def channels(self) -> list[str]:
        return list(self._listeners)

    def start(self) -> None:
        self._started = True
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            redis = self._redis_factory()
            try:
                async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(*self._listeners)
                    self.connected.set()
                    for listener in self._listeners.values():
                        listener.on_subscribed()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._dispatch(message["channel"], message["data"])
            except (RedisError, OSError) as exc:
                if self.connected.is_set():
                    log.warning("pub/sub: lost Redis (%s); retrying", exc)
                    self.connected.clear()
                    for listener in self._listeners.values():
                        listener.on_lost()
            finally:
                await redis.aclose()
            await asyncio.sleep(self._retry_seconds)

    def _dispatch(self, channel: bytes | str, data: bytes) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        listener = self._listeners.get(name)
        if listener is None:
            return
        try:
            listener.on_message(data)
        except Exception:  # one listener's bug must not end every channel's subscription
            log.exception("pub/sub: the listener of %s failed", name)
