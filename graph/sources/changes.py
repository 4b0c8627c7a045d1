"""Changes of the snapshot set in service, for whoever follows them in this process.

`Sources.refresh` publishes one `SnapshotChange` each time it swaps in a new
set (never for a re-check that found nothing new); `SnapshotChanges.follow`
hands them to each follower, starting with the set in service when it began.
Each process refreshes its own sources, so each process tells its own followers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SnapshotChange:
    """A snapshot set went into service: its version, when, and which sources differ
    from the set before (by name, as /ready lists them; empty for the first set)."""

    version: str
    changed: tuple[str, ...]
    at: datetime


class SnapshotChanges:
    """The latest change and a queue per follower (changes are rare: one per refresh)."""

    def __init__(self) -> None:
        self.latest: SnapshotChange | None = None
        self._followers: set[asyncio.Queue[SnapshotChange]] = set()

    @property
    def followers(self) -> int:
        return len(self._followers)

    def publish(self, change: SnapshotChange) -> None:
        self.latest = change
        for queue in self._followers:
            queue.put_nowait(change)

    async def follow(self) -> AsyncIterator[SnapshotChange]:
        """The set in service now (if loaded; `changed` empty: it is no news), then every
        later change."""
        queue: asyncio.Queue[SnapshotChange] = asyncio.Queue()
        self._followers.add(queue)
        current = self.latest  # no await since registering: the queue holds only later ones
        try:
            if current is not None:
                yield replace(current, changed=())
            while True:
                yield await queue.get()
        finally:
            self._followers.discard(queue)
