"""LiveScoreRepository: reads and idempotent upserts of `match_raw`.

Every method is one round of SQL at most per call (a page of ids is one
query); failures of the database surface as DatabaseUnavailable. Schema
creation is retried lazily when the database was down at start-up. A writer
may pass `on_change`: it is given the rows an upsert wrote, once committed
(the worker announces them on Redis for live-score subscriptions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Row, any_, bindparam, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.settings import Settings
from graph.sources.database import create_engine_for, ensure_schema, unavailable_on_failure
from graph.sources.errors import DatabaseUnavailable
from graph.sources.livescore_models import CONTENT_FIELDS, MATCH_RAW, LiveScoreRow

log = logging.getLogger(__name__)

INT32 = (-(2**31), 2**31 - 1)
SQLITE_CHUNK = 10_000  # bound parameters per statement (SQLite allows 32766)

# Told the rows an upsert inserted or changed (with their `updated_at`), after the commit.
ChangeHook = Callable[[Sequence[LiveScoreRow]], Awaitable[None]]


class UpsertCounts(NamedTuple):
    inserted: int
    updated: int
    unchanged: int


class LiveScoreRepository:
    """The live-score table over one engine; build once per process."""

    name = "database"  # the component /health and /metrics name when it fails

    def __init__(self, engine: AsyncEngine, *, on_change: ChangeHook | None = None) -> None:
        self.engine = engine
        self.on_change = on_change
        self.last_error: str | None = None  # what /ready reports while the database fails
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def prepare(self) -> bool:
        """Create the schema now; False (logged, retried on use) when the database is down."""
        try:
            async with self._connection():
                pass
        except DatabaseUnavailable as exc:
            log.warning("live scores: %s; will retry on first use", exc)
            return False
        return True

    def problems(self) -> list[str]:
        """What /ready and health list while the database fails (it degrades, never unready)."""
        return [self.last_error] if self.last_error else []

    async def check(self) -> None:
        """Raise DatabaseUnavailable unless the database answers a trivial query."""
        async with self._connection() as connection:
            await connection.execute(text("SELECT 1"))

    async def run_checks(self, interval: float) -> None:
        """Re-check forever, so /ready follows the database without live-score traffic."""
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(DatabaseUnavailable):
                await self.check()

    async def by_ids(self, ids: Sequence[int]) -> dict[int, LiveScoreRow]:
        """Rows of these match ids (absent ones left out): one query for a page."""
        wanted = [i for i in dict.fromkeys(ids) if INT32[0] <= i <= INT32[1]]
        if not wanted:
            return {}
        async with self._connection() as connection:
            return await self._rows_by_id(connection, wanted)

    async def month(
        self, year: int, month: int, *, limit: int, offset: int = 0
    ) -> list[LiveScoreRow]:
        """Matches starting in that UTC month, ordered by start time then match id."""
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        column = MATCH_RAW.c.start_time_utc
        query = (
            select(MATCH_RAW)
            .where(column >= start, column < end)
            .order_by(column, MATCH_RAW.c.match_id)
            .limit(limit)
            .offset(offset)
        )
        async with self._connection() as connection:
            result = await connection.execute(query)
            return [_row(r) for r in result]

    async def upsert(self, rows: Sequence[LiveScoreRow]) -> UpsertCounts:
        """Insert new and rewrite changed rows in one transaction; unchanged rows untouched.

        Once committed, `on_change` (if any) is given the rows written."""
        latest = {row.match_id: row for row in rows}
        async with self._connection(write=True) as connection:
            existing = await self._rows_by_id(connection, list(latest))
            now = datetime.now(UTC)
            changed = [
                replace(row, updated_at=now)
                for match_id, row in latest.items()
                if match_id not in existing or existing[match_id].content() != row.content()
            ]
            if changed:
                values = [{**row.values(), "updated_at": now} for row in changed]
                await connection.execute(self._upsert_statement(), values)
        if changed and self.on_change is not None:
            await self.on_change(changed)
        inserted = sum(1 for row in changed if row.match_id not in existing)
        return UpsertCounts(inserted, len(changed) - inserted, len(latest) - len(changed))

    @contextlib.asynccontextmanager
    async def _connection(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        try:
            async with unavailable_on_failure():
                await self._ensure_schema()
                opened = self.engine.begin() if write else self.engine.connect()
                async with opened as connection:
                    yield connection
        except DatabaseUnavailable as exc:
            self.last_error = str(exc)
            raise
        self.last_error = None

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._schema_lock:
            if not self._schema_ready:
                await ensure_schema(self.engine)
                self._schema_ready = True

    async def _rows_by_id(
        self, connection: AsyncConnection, ids: list[int]
    ) -> dict[int, LiveScoreRow]:
        found: dict[int, LiveScoreRow] = {}
        chunk = len(ids) if self._dialect == "postgresql" else SQLITE_CHUNK
        for begin in range(0, len(ids), chunk):
            query = select(MATCH_RAW).where(self._id_in(ids[begin : begin + chunk]))
            for record in await connection.execute(query):
                found[record.match_id] = _row(record)
        return found

    def _id_in(self, ids: list[int]) -> ColumnElement[bool]:
        column = MATCH_RAW.c.match_id
        if self._dialect == "postgresql":  # one array parameter, whatever the page size
            return column == any_(bindparam("ids", ids, type_=postgresql.ARRAY(Integer)))
        return column.in_(ids)

    def _upsert_statement(self) -> Any:
        module: Any = postgresql if self._dialect == "postgresql" else sqlite
        statement = module.insert(MATCH_RAW)
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=[MATCH_RAW.c.match_id],
            set_={name: excluded[name] for name in (*CONTENT_FIELDS[1:], "updated_at")},
            # Even if another writer got there first, identical content is not rewritten.
            where=or_(*(MATCH_RAW.c[n].is_distinct_from(excluded[n]) for n in CONTENT_FIELDS)),
        )

    @property
    def _dialect(self) -> str:
        return self.engine.dialect.name


@contextlib.asynccontextmanager
async def open_live_scores(
    settings: Settings, *, check_every: float | None = None, on_change: ChangeHook | None = None
) -> AsyncIterator[LiveScoreRepository]:
    """Engine and repository for one process: schema created now if the database is up
    (else on first use), re-checked every `check_every` seconds, disposed at the end;
    `on_change` is told every upsert's written rows once committed."""
    engine = await create_engine_for(settings)
    repository = LiveScoreRepository(engine, on_change=on_change)
    checks: asyncio.Task[None] | None = None
    try:
        await repository.prepare()
        if check_every:
            checks = asyncio.create_task(repository.run_checks(check_every), name="db-checks")
        yield repository
    finally:
        if checks is not None:
            checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checks
        await engine.dispose()


def _row(record: Row[Any]) -> LiveScoreRow:
    return LiveScoreRow(**record._mapping)
