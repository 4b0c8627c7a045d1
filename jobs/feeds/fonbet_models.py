"""Pydantic models of Fonbet's events packet (PariEvents: sports, events, customFactors).

`customFactors` comes flat in the older format (one element per factor,
`{"e", "f", "v", ...}`, as in the real sample) or grouped per event in the
newer one (`{"e", "countAll", "factors": [{"f", "v"}]}`); both are accepted.
Fields we use are strict; the many others are ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictInt, Tag

HOME_WIN, DRAW, AWAY_WIN = 921, 922, 923  # factor ids of the 1X2 market
Name = Annotated[str, Field(strict=True)]
Price = Annotated[float, Field(strict=True)]


class FeedModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Sport(FeedModel):
    """A sport (`kind` "sport") or a segment (a league) under one."""

    id: StrictInt
    parentId: StrictInt | None = None
    kind: Name | None = None
    name: Name = ""


class Event(FeedModel):
    """A match (level 1) or one of its parts (periods, specials: level 2, 3)."""

    id: StrictInt
    parentId: StrictInt | None = None
    level: StrictInt | None = None
    sportId: StrictInt
    team1: Name | None = None
    team2: Name | None = None
    name: Name | None = None
    startTime: Annotated[StrictInt, Field(ge=0)]  # Unix seconds
    place: Name | None = None

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.startTime, tz=UTC)


class Factor(FeedModel):
    f: StrictInt
    v: Price
    p: StrictInt | None = None
    pt: Name | None = None


class FlatFactor(Factor):
    e: StrictInt
    isLive: bool | None = None


class FactorGroup(FeedModel):
    e: StrictInt
    countAll: StrictInt | None = None
    factors: list[Factor]


def _factor_format(value: Any) -> str:
    return "grouped" if isinstance(value, dict) and "factors" in value else "flat"


FactorEntry = Annotated[
    Annotated[FlatFactor, Tag("flat")] | Annotated[FactorGroup, Tag("grouped")],
    Discriminator(_factor_format),
]


class PariEvents(FeedModel):
    """One events packet."""

    packetVersion: StrictInt | None = None
    fromVersion: StrictInt | None = None
    sports: list[Sport] = []
    events: list[Event]
    customFactors: list[FactorEntry] = []

    def factors(self) -> dict[int, dict[int, float]]:
        """Factor values per event id: {event id: {factor id: value}}."""
        out: dict[int, dict[int, float]] = {}
        for entry in self.customFactors:
            values = out.setdefault(entry.e, {})
            if isinstance(entry, FactorGroup):
                values.update((f.f, f.v) for f in entry.factors)
            else:
                values[entry.f] = entry.v
        return out
