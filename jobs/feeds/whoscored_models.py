"""Pydantic models of WhoScored's livescores feed (Livescores > tournaments > matches).

Extra fields are ignored (the feed carries many we do not use); the fields we
use are typed strictly, so `"homeScore": "abc"` or `"1"` is an error, not a
guess. Dates come as `dd/mm/YYYY HH:MM:SS` or ISO-8601 (with or without `Z`);
times without an offset are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictInt, model_validator

DAY_FIRST_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


def parse_feed_time(value: Any) -> datetime:
    """`dd/mm/YYYY HH:MM:SS` or ISO-8601 -> aware UTC datetime (naive means UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = _parse_text(value.strip())
    else:
        raise ValueError("expected a date-time string")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_text(text: str) -> datetime:
    for pattern in DAY_FIRST_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "expected a date-time as dd/mm/YYYY HH:MM:SS or ISO-8601 (e.g. 2020-12-26T15:00:00Z)"
        ) from None


FeedTime = Annotated[datetime, PlainValidator(parse_feed_time)]
MatchId = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
Score = Annotated[StrictInt, Field(ge=0)]
TeamName = Annotated[str, Field(strict=True, min_length=1)]
Text = Annotated[str, Field(strict=True)]


class FeedModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Incident(FeedModel):
    """A goal, card or substitution of a match (kept for validation, not stored)."""

    minute: str | int | None = None
    type: int | None = None
    subType: int | None = None
    playerName: str | None = None
    playerId: int | None = None
    participatingPlayerName: str | None = None
    participatingPlayerId: int | None = None
    field: int | None = None
    period: int | None = None


class Match(FeedModel):
    id: MatchId
    startTime: FeedTime | None = None
    startTimeUtc: FeedTime | None = None
    homeTeamName: TeamName
    awayTeamName: TeamName
    homeScore: Score | None = None
    awayScore: Score | None = None
    elapsed: Text | None = None
    status: StrictInt | None = None
    incidents: list[Incident] | None = None
    # Odds WhoScored shows with a match (null throughout the real sample): not used, and
    # their shape is not documented, so any object or list is accepted.
    bets: dict[str, Any] | list[Any] | None = None

    @model_validator(mode="after")
    def _has_start(self) -> Match:
        if self.startTimeUtc is None and self.startTime is None:
            raise ValueError("neither startTimeUtc nor startTime is given")
        return self

    @property
    def kickoff(self) -> datetime:
        start = self.startTimeUtc or self.startTime
        assert start is not None  # checked by _has_start
        return start


class Tournament(FeedModel):
    tournamentId: StrictInt | None = None
    tournamentName: Text | None = None
    regionName: Text | None = None
    matches: list[Match] = []


class Livescores(FeedModel):
    """The whole payload: only `tournaments` matters to us."""

    tournaments: list[Tournament]
    isSummary: bool | None = None
    createdAt: str | None = None
