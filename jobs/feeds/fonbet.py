"""Fonbet events packet -> 1X2 odds in data-raw/fonbet_odds.parquet.

Candidates are football matches (root events under Fonbet's sport 1) that
carry all three 1X2 factors (921 home, 922 draw, 923 away). Each is linked
to a catalogue match (match_features.parquet) by team names and kick-off;
linked odds are merged into the odds file by match id and written
atomically, unlinked events are counted and listed, never written.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import numpy as np
import pandas as pd
from pydantic import ValidationError

from graph.sources.errors import ObjectNotFound
from graph.sources.storage import Storage
from graph.sources.tables import (
    CATALOG,
    FONBET_ID_COLUMNS,
    ODDS,
    ODDS_FILE_COLUMNS,
    ODDS_PRICE_COLUMNS,
)
from graph.taskqueue.results import IngestResult
from jobs.feeds.fonbet_models import AWAY_WIN, DRAW, HOME_WIN, Event, PariEvents
from jobs.feeds.linking import BookedEvent, link_events
from jobs.feeds.payloads import PayloadRejected, decode_json, explain, read_feed

FOOTBALL = 1  # Fonbet's sport id of football; leagues are segments below it
MAX_LISTED = 200  # unlinked events listed one by one in the messages


async def ingest_fonbet_odds(*, storage: Storage, source: str) -> IngestResult:
    """Link the packet's football 1X2 odds to catalogue matches and merge them in.

    SourceRefused when `source` is outside the storage or absent; a packet
    that fails validation writes nothing and comes back as `rejected`.
    """
    data = await read_feed(storage, source)
    try:
        events, skipped = await asyncio.to_thread(parse_fonbet, data, source)
    except PayloadRejected as rejected:
        return IngestResult(rejected=rejected.records, messages=rejected.reasons)
    catalog = await _read_or_none(storage, CATALOG.bucket, CATALOG.key)
    if catalog is None:
        links_linked, unlinked = {}, [f"{e.describe()}: no catalogue yet" for e in events]
    else:
        links = await asyncio.to_thread(link_events, events, catalog)
        links_linked, unlinked = links.linked, links.unlinked
    counts = await _merge_odds(storage, _odds_frame(links_linked))
    messages = [f"{len(events)} football events with 1X2 odds in {source}", *skipped]
    messages += unlinked[:MAX_LISTED]
    if len(unlinked) > MAX_LISTED:
        messages.append(f"... and {len(unlinked) - MAX_LISTED} more unlinked events")
    return IngestResult(*counts, unlinked=len(unlinked), messages=messages)


def parse_fonbet(data: bytes, source: str) -> tuple[list[BookedEvent], list[str]]:
    """The packet's football matches with full 1X2 odds, and what was left out, by reason."""
    payload = decode_json(data, source)
    try:
        packet = PariEvents.model_validate(payload)
    except ValidationError as exc:
        raise PayloadRejected(explain(exc, payload, _label), _count(payload)) from None
    parents = {s.id: s.parentId for s in packet.sports}
    factors = packet.factors()
    booked: list[BookedEvent] = []
    left_out: Counter[str] = Counter()
    for event in packet.events:
        if event.parentId is not None:
            continue  # periods and specials of a match, not the match
        reason = _left_out_reason(event, parents, factors.get(event.id, {}))
        if reason:
            left_out[reason] += 1
            continue
        booked.append(_booked(event, factors[event.id]))
    skipped = [f"skipped {n} events: {reason}" for reason, n in sorted(left_out.items())]
    return booked, skipped


def _left_out_reason(
    event: Event, parents: dict[int, int | None], values: dict[int, float]
) -> str | None:
    if _root_sport(event.sportId, parents) != FOOTBALL:
        return "not football"
    if not event.team1 or not event.team2:
        return "no home and away team"
    if not {HOME_WIN, DRAW, AWAY_WIN} <= values.keys():
        return "without full 1X2 odds (factors 921/922/923)"
    return None


def _root_sport(sport_id: int, parents: dict[int, int | None]) -> int | None:
    seen: set[int] = set()
    current: int | None = sport_id
    while current is not None and current in parents and current not in seen:
        seen.add(current)
        parent = parents[current]
        if parent is None:
            return current
        current = parent
    return None  # unknown sport, or a cycle


def _booked(event: Event, values: dict[int, float]) -> BookedEvent:
    assert event.team1 and event.team2
    return BookedEvent(
        event_id=event.id,
        sport_id=event.sportId,
        home=event.team1,
        away=event.team2,
        start=event.start,
        odds=(values[HOME_WIN], values[DRAW], values[AWAY_WIN]),
    )


def _odds_frame(linked: dict[int, BookedEvent]) -> pd.DataFrame:
    ids = sorted(linked)
    events = [linked[i] for i in ids]
    prices = {
        name: pd.array([e.odds[i] for e in events], dtype="float64")
        for i, name in enumerate(ODDS_PRICE_COLUMNS)
    }
    event_id, sport_id = FONBET_ID_COLUMNS
    return pd.DataFrame(
        {
            **prices,
            event_id: pd.array([e.event_id for e in events], dtype="Int64"),
            sport_id: pd.array([e.sport_id for e in events], dtype="Int64"),
        },
        index=pd.Index(ids, name="match_id", dtype="int64"),
    )


async def _merge_odds(storage: Storage, new: pd.DataFrame) -> tuple[int, int, int]:
    """Merge by match id and write atomically when anything changed; (ins, upd, same)."""
    existing = await _read_or_none(storage, ODDS.bucket, ODDS.key)
    if existing is None:
        existing = new.iloc[:0]
    elif existing.index.name != "match_id":
        existing = existing.set_index("match_id")
    known = new.index.intersection(existing.index)
    same = int(_same_rows(existing.loc[known], new.loc[known]).sum())
    inserted, updated = len(new) - len(known), len(known) - same
    if inserted or updated:
        merged = pd.concat([existing.drop(index=new.index, errors="ignore"), new]).sort_index()
        merged.index = merged.index.astype("int64").rename("match_id")
        await storage.put_dataframe(ODDS.bucket, ODDS.key, merged)
    return inserted, updated, same


def _same_rows(old: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    def numbers(frame: pd.DataFrame) -> np.ndarray:
        columns = frame.reindex(columns=list(ODDS_FILE_COLUMNS)).astype("float64")
        return columns.to_numpy(dtype="float64", na_value=np.nan)

    a, b = numbers(old), numbers(new)
    return np.asarray(((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1))


async def _read_or_none(storage: Storage, bucket: str, key: str) -> pd.DataFrame | None:
    try:
        return await storage.get_dataframe(bucket, key)
    except ObjectNotFound:
        return None


def _label(list_name: str, item: dict[str, object]) -> str | None:
    if list_name == "events" and "id" in item:
        return f"event {item['id']!r} ({item.get('team1', '?')} v {item.get('team2', '?')})"
    if list_name == "sports" and "id" in item:
        return f"sport {item['id']!r} ({item.get('name', '?')})"
    if list_name == "customFactors" and "e" in item:
        return f"factor of event {item['e']!r}"
    return None


def _count(payload: object) -> int:
    events = payload.get("events") if isinstance(payload, dict) else None
    return max(len(events), 1) if isinstance(events, list) else 1
