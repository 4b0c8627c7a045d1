"""Snapshots of the pipeline's files: lazy load, periodic re-check, atomic swap.

A `SnapshotSet` is immutable: a request pins one for its whole execution, so
a refresh in the middle of a query can never mix two versions. A missing file
is an empty table ("not produced yet"); an unreadable or invalid one keeps
the last good snapshot in service and is reported in `status()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, cast

import numpy as np
import pyarrow as pa

from graph.sources.catalog import MatchCatalog
from graph.sources.changes import SnapshotChange, SnapshotChanges
from graph.sources.drift import DriftReport
from graph.sources.errors import SourceError
from graph.sources.keyed import KeyedTable
from graph.sources.storage import ObjectStat, Storage
from graph.sources.tables import ALL_TABLES, CATALOG, DRIFT, ODDS, PREDICTIONS, ROI, SourceSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One loaded version of one table."""

    table: Any
    etag: str | None  # None: the file does not exist (yet)
    modified_at: datetime | None
    rows: int


@dataclass(frozen=True, slots=True)
class TableStatus:
    """What /ready and health report per source."""

    name: str
    source: str
    present: bool
    loaded: bool
    rows: int
    modified_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class SnapshotSet:
    """The tables in service at one moment; `version` names this combination."""

    snapshots: dict[str, Snapshot]
    version: str = field(init=False)

    def __post_init__(self) -> None:
        tags = "|".join(f"{name}={snap.etag}" for name, snap in sorted(self.snapshots.items()))
        object.__setattr__(self, "version", hashlib.sha1(tags.encode()).hexdigest()[:16])

    @property
    def catalog(self) -> MatchCatalog:
        return cast(MatchCatalog, self.snapshots[CATALOG.name].table)

    @property
    def predictions(self) -> KeyedTable:
        return cast(KeyedTable, self.snapshots[PREDICTIONS.name].table)

    @property
    def odds(self) -> KeyedTable:
        return cast(KeyedTable, self.snapshots[ODDS.name].table)

    @property
    def roi(self) -> KeyedTable:
        return cast(KeyedTable, self.snapshots[ROI.name].table)

    @property
    def drift(self) -> DriftReport | None:
        """The pipeline's latest drift verdict; None when not produced yet."""
        return cast(DriftReport | None, self.snapshots[DRIFT.name].table)

    def modified_at(self, name: str) -> datetime | None:
        return self.snapshots[name].modified_at

    @cached_property
    def orphan_ids(self) -> np.ndarray:
        """Prediction ids whose match is not in the catalogue."""
        ids = self.predictions.index.to_numpy()
        return np.asarray(ids[self.catalog.positions(ids) < 0], dtype=np.int64)

    @cached_property
    def region_names(self) -> list[str]:
        """Regions of the catalogue and of the ROI file, by name."""
        names = {n.casefold(): n for n in self.catalog.region_names}
        for name in self.roi.columns.get("region", []):
            names.setdefault(str(name).casefold(), str(name))
        return sorted(names.values(), key=str.casefold)


class _Table:
    """Mutable holder of one table's current snapshot and last error."""

    def __init__(
        self, spec: SourceSpec[Any, Any], on_error: Callable[[str], None] | None = None
    ) -> None:
        self.spec = spec
        self.on_error = on_error  # told the source of every failed load (the API's metrics)
        self.snapshot: Snapshot | None = None
        self.error: str | None = None
        self.present = False
        self._failed_etag: str | None = None  # a bad file is parsed once, not every check

    async def refresh(self, storage: Storage) -> bool:
        """Re-check the file; True when the snapshot in service changed."""
        spec = self.spec
        stat: ObjectStat | None = None
        try:
            stat = await storage.stat(spec.bucket, spec.key)
            self.present = stat is not None
            if stat is None:
                return self._set(Snapshot(spec.empty(), None, None, 0))
            if self.snapshot is not None and self.snapshot.etag == stat.etag:
                self.error = None
                return False
            if stat.etag == self._failed_etag:
                return False
            data = await storage.get_bytes(spec.bucket, spec.key)
            table = await asyncio.to_thread(spec.parse, data)
        except SourceError as exc:
            return self._fail(str(exc), stat.etag if stat else None)
        except Exception as exc:  # storage outage, unexpected decode failure
            log.exception("refreshing %s failed", spec.source)
            return self._fail(f"{spec.source}: {type(exc).__name__}", None)
        assert stat is not None
        return self._set(Snapshot(table, stat.etag, stat.last_modified, spec.rows(table)))

    def _set(self, snapshot: Snapshot) -> bool:
        changed = self.snapshot is None or self.snapshot.etag != snapshot.etag
        self.snapshot, self.error, self._failed_etag = snapshot, None, None
        if changed:
            log.info(
                "%s: loaded version %s (%d rows)", self.spec.source, snapshot.etag, snapshot.rows
            )
        return changed

    def _fail(self, message: str, etag: str | None) -> bool:
        if message != self.error:
            log.error("keeping last good data for %s: %s", self.spec.source, message)
        self.error, self._failed_etag = message, etag
        if self.on_error is not None:
            self.on_error(self.spec.source)
        return False

    def in_service(self) -> Snapshot:
        if self.snapshot is not None:
            return self.snapshot
        return Snapshot(self.spec.empty(), None, None, 0)

    def status(self) -> TableStatus:
        snap = self.snapshot
        return TableStatus(
            name=self.spec.name,
            source=self.spec.source,
            present=self.present,
            loaded=snap is not None,
            rows=snap.rows if snap else 0,
            modified_at=snap.modified_at if snap else None,
            error=self.error,
        )


class Sources:
    """Every snapshot table over one storage, refreshed every `refresh_seconds`."""

    def __init__(
        self,
        storage: Storage,
        *,
        refresh_seconds: float,
        specs: tuple[SourceSpec[Any, Any], ...] = ALL_TABLES,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.storage = storage
        self.refresh_seconds = refresh_seconds
        self._tables = [_Table(spec, on_error) for spec in specs]
        self._current: SnapshotSet | None = None
        self._checked_at = -float("inf")
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[SnapshotSet] | None = None
        self.changes = SnapshotChanges()  # one per new set in service (dataUpdated)

    async def current(self) -> SnapshotSet:
        """The set in service: loaded on first use, re-checked when stale."""
        if self._current is None:
            await self.refresh()
        elif time.monotonic() - self._checked_at >= self.refresh_seconds:
            self._refresh_in_background()
        assert self._current is not None
        return self._current

    @property
    def version(self) -> str | None:
        """The data version in service, None before the first load."""
        return self._current.version if self._current else None

    @property
    def in_service(self) -> SnapshotSet | None:
        """The set in service as it stands (no load, no re-check); None before the first load."""
        return self._current

    async def refresh(self) -> SnapshotSet:
        """Re-check every file now and swap in a new set if anything changed."""
        async with self._lock:
            changes = await asyncio.gather(*(t.refresh(self.storage) for t in self._tables))
            self._checked_at = time.monotonic()
            if self._current is None or any(changes):
                previous = self._current
                self._current = SnapshotSet({t.spec.name: t.in_service() for t in self._tables})
                # Arrow keeps parse buffers in its pool; give them back once tables are built.
                pa.default_memory_pool().release_unused()
                self.changes.publish(_change(previous, self._current))
            return self._current

    async def run_refresher(self) -> None:
        """Re-check forever at the configured interval (the API's lifespan runs this)."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self.refresh()

    def status(self) -> list[TableStatus]:
        return [t.status() for t in self._tables]

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.get_running_loop().create_task(self.refresh())


def _change(previous: SnapshotSet | None, current: SnapshotSet) -> SnapshotChange:
    """What differs between two sets in service, by source name (in the /ready order)."""
    changed = tuple(
        name
        for name, snapshot in current.snapshots.items()
        if previous is not None and previous.snapshots[name].etag != snapshot.etag
    )
    return SnapshotChange(current.version, changed, datetime.now(UTC))
