"""Linking bookmaker events to catalogue matches: same teams, kick-off close enough.

A link needs the normalised home and away names to be equal and the start
times to be within TIME_TOLERANCE; anything else (no candidate, several
candidates, two events on one match) stays unlinked and is reported, never
guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from jobs.feeds.names import normalise_column, normalise_team

TIME_TOLERANCE = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class BookedEvent:
    """A bookmaker's match with its 1X2 odds."""

    event_id: int
    sport_id: int
    home: str
    away: str
    start: datetime
    odds: tuple[float, float, float]

    def describe(self) -> str:
        return f"event {self.event_id} {self.home} v {self.away} at {self.start.isoformat()}"


@dataclass(frozen=True, slots=True)
class Links:
    linked: dict[int, BookedEvent]  # catalogue match id -> event
    unlinked: list[str]  # one reason per event left out


class CatalogIndex:
    """Catalogue matches by normalised (home, away), with their start times."""

    def __init__(self, catalog: pd.DataFrame) -> None:
        frame = catalog.set_index("match_id") if "match_id" in catalog else catalog
        start = pd.to_datetime(frame["startTimeUtc"], utc=True)
        keys = pd.DataFrame(
            {
                "home": normalise_column(frame["homeTeamName"]),
                "away": normalise_column(frame["awayTeamName"]),
                "start": start,
                "match_id": frame.index.astype("int64"),
            }
        ).dropna()
        self._by_teams: dict[tuple[str, str], list[tuple[int, datetime]]] = defaultdict(list)
        for home, away, moment, match_id in keys.itertuples(index=False):
            self._by_teams[(home, away)].append((int(match_id), moment.to_pydatetime()))

    def candidates(self, event: BookedEvent) -> list[int]:
        teams = (normalise_team(event.home), normalise_team(event.away))
        return [
            match_id
            for match_id, start in self._by_teams.get(teams, [])
            if abs(start - event.start) <= TIME_TOLERANCE
        ]


def link_events(events: Sequence[BookedEvent], catalog: pd.DataFrame) -> Links:
    """Each event to exactly one catalogue match, or a reason why not."""
    index = CatalogIndex(catalog)
    claims: dict[int, list[BookedEvent]] = defaultdict(list)
    unlinked: list[str] = []
    for event in events:
        found = index.candidates(event)
        if len(found) == 1:
            claims[found[0]].append(event)
        elif not found:
            unlinked.append(f"{event.describe()}: no catalogue match with these teams then")
        else:
            ids = ", ".join(map(str, sorted(found)))
            unlinked.append(f"{event.describe()}: ambiguous, catalogue matches {ids}")
    linked: dict[int, BookedEvent] = {}
    for match_id, claimants in claims.items():
        if len(claimants) == 1:
            linked[match_id] = claimants[0]
            continue
        others = ", ".join(str(e.event_id) for e in claimants)
        unlinked.extend(
            f"{e.describe()}: events {others} all match catalogue match {match_id}"
            for e in claimants
        )
    return Links(linked, unlinked)
