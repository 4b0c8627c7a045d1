"""The live-score database: one async engine per process, its schema, its failures.

PostgreSQL (asyncpg) in production, SQLite (aiosqlite) by default. Connection
attempts fail fast (a few seconds at most) so that a database outage costs a
field error, never a hung request.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from graph.settings import Settings
from graph.sources.errors import DatabaseUnavailable
from graph.sources.livescore_models import Base

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0  # seconds to open a connection
COMMAND_TIMEOUT = 10.0  # seconds a statement may run
POOL_TIMEOUT = 2.0  # seconds to wait for a free pooled connection
_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def database_url(settings: Settings) -> URL:
    """The settings' database URL on the async driver we configure (asyncpg, aiosqlite)."""
    url = make_url(settings.effective_database_url)
    backend = url.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(
            f"unsupported live-score database {backend!r}: use postgresql+asyncpg or "
            "sqlite+aiosqlite"
        )
    # A sync driver (`postgresql://`, `+psycopg2`) would fail at start-up: use ours.
    return url.set(drivername=_ASYNC_DRIVERS[backend])


async def create_engine_for(settings: Settings) -> AsyncEngine:
    """The process's engine and pool; connects lazily, so a database that is down is fine."""
    url = database_url(settings)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            with contextlib.suppress(OSError):  # reported by the first query instead
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(url, connect_args={"timeout": COMMAND_TIMEOUT})
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT,
        connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": COMMAND_TIMEOUT},
    )


async def ensure_schema(engine: AsyncEngine) -> None:
    """Create missing tables (as the old service did at start-up); idempotent."""
    for attempt in (1, 2):
        try:
            async with unavailable_on_failure(), engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            return
        except DatabaseUnavailable as exc:
            # Two processes creating the table at once: the loser sees a duplicate.
            duplicate = isinstance(exc.__cause__, sa_exc.IntegrityError | sa_exc.ProgrammingError)
            if attempt == 2 or not duplicate:
                raise


@contextlib.asynccontextmanager
async def unavailable_on_failure() -> AsyncIterator[None]:
    """Turn driver, pool and network failures into DatabaseUnavailable."""
    try:
        yield
    except (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, TimeoutError) as exc:
        raise DatabaseUnavailable(
            f"the live-score database is unavailable ({_describe(exc)})"
        ) from exc


def _describe(exc: BaseException) -> str:
    """The failure's kind, never its text (which may name hosts or credentials)."""
    original = getattr(exc, "orig", None)
    return type(original if original is not None else exc).__name__
