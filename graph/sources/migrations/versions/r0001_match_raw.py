"""The live-score table match_raw.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "match_raw"
INDEX = "ix_match_raw_start_time"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return  # created by the API at start-up (Base.metadata.create_all): same shape
    op.create_table(
        TABLE,
        sa.Column("match_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("start_time_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("home_team_name", sa.String, nullable=False),
        sa.Column("away_team_name", sa.String, nullable=False),
        sa.Column("home_score", sa.Integer, nullable=True),
        sa.Column("away_score", sa.Integer, nullable=True),
        sa.Column("status", sa.String, nullable=True),
        sa.Column("region", sa.String, nullable=True),
        sa.Column("tournament", sa.String, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(INDEX, TABLE, ["start_time_utc", "match_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_table(TABLE)
