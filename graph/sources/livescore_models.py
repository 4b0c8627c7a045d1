"""The live-score table `match_raw` (SQLAlchemy 2 declarative) and its row value."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Index, Integer, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every dialect (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give live-score times in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class MatchRaw(Base):
    """One row per match id: the latest live score a feed reported."""

    __tablename__ = "match_raw"
    __table_args__ = (Index("ix_match_raw_start_time", "start_time_utc", "match_id"),)

    match_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_time_utc: Mapped[datetime | None] = mapped_column(UtcDateTime)
    home_team_name: Mapped[str] = mapped_column(String)
    away_team_name: Mapped[str] = mapped_column(String)
    home_score: Mapped[int | None] = mapped_column(Integer)
    away_score: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String)
    region: Mapped[str | None] = mapped_column(String)
    tournament: Mapped[str | None] = mapped_column(String)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


MATCH_RAW = MatchRaw.__table__


@dataclass(frozen=True, slots=True)
class LiveScoreRow:
    """A live score as the repository reads and writes it (`updated_at` set on write)."""

    match_id: int
    start_time_utc: datetime | None
    home_team_name: str
    away_team_name: str
    home_score: int | None
    away_score: int | None
    status: str | None
    region: str | None = None
    tournament: str | None = None
    updated_at: datetime | None = None

    def content(self) -> tuple[Any, ...]:
        """Every field but `updated_at`: what decides whether a write changes anything."""
        return astuple(self)[:-1]

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}


CONTENT_FIELDS = tuple(f.name for f in fields(LiveScoreRow) if f.name != "updated_at")
