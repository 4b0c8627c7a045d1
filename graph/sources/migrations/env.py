"""Alembic environment: runs on the connection `graph.sources.migrations` hands over."""

from __future__ import annotations

from alembic import context

from graph.sources.livescore_models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through graph.sources.migrations (python -m ...)")
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
