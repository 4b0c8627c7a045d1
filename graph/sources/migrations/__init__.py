"""Alembic migrations of the live-score database, configured in code (no alembic.ini).

Production runs them before rolling out a release:

    python -m graph.sources.migrations upgrade            # to the newest revision
    python -m graph.sources.migrations current            # what the database is at
    python -m graph.sources.migrations downgrade base     # drop the tables again

The database is the one the settings name (MATCHGRAPH_DATABASE_URL or
SOCCER_POSTGRES_*). Revisions are written so that a database whose tables the
API already created at start-up upgrades cleanly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.sources.database import unavailable_on_failure

SCRIPTS = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for these scripts, running on `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, command.downgrade, revision)


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None before the first migration."""
    async with unavailable_on_failure(), engine.connect() as connection:
        revision: str | None = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
        return revision


async def _run(engine: AsyncEngine, action: Callable[..., Any], revision: str) -> None:
    async with unavailable_on_failure(), engine.begin() as connection:
        await connection.run_sync(lambda sync: action(alembic_config(sync), revision))
