"""Fonbet odds ingestion: the real packet, linking to catalogue matches, merging the odds file."""

# The sample's team names are Russian: Cyrillic letters that look Latin are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from graph.sources.local import LocalStorage
from graph.sources.tables import ODDS
from jobs.feeds.errors import SourceRefused
from jobs.feeds.fonbet import ingest_fonbet_odds, parse_fonbet
from tests import datasets
from tests.feed_samples import FONBET

SOURCE = "data-raw/feeds/fonbet.json"
ODDS_FILE = "data-raw/fonbet_odds.parquet"
SPARTAK, NEVROZ, GENT = 16164316, 16167297, 16161130  # football events of the sample
UNLINKED = {16161170, 16167300, 16161138, 16161140}  # the sample's other football 1X2 events


def packet() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FONBET.read_bytes())
    return data


def catalog() -> pd.DataFrame:
    """Three of the sample's matches as another feed would write them, and two decoys."""
    rows = [
        (501, "2019-08-19 16:55", "FC Спартак М.", "ЦСКА"),  # affix and punctuation differ
        (502, "2019-08-19 17:00", "Невроз", "Мотала"),  # 25 min earlier than Fonbet's time
        (503, "2019-08-19 17:25", "ГЕНТ (р)", "Сент-Трюйден (р)"),  # case differs
        (504, "2019-08-20 01:00", "Норрталье", "Остераакерс"),  # 7.5 h apart: not linked
        (505, "2019-08-19 17:25", "Антверпен (р)", "Унион Ст. Жиллуаз (р)"),
        (506, "2019-08-19 18:25", "Антверпен (р)", "Унион Ст. Жиллуаз (р)"),  # ambiguous
        (507, "2019-08-19 17:40", "Бут Роуд Селтик", "Блубелл Юн"),  # home and away swapped
    ]
    frame = pd.DataFrame(
        rows, columns=["match_id", "startTimeUtc", "homeTeamName", "awayTeamName"]
    ).set_index("match_id")
    frame["startTimeUtc"] = pd.to_datetime(frame["startTimeUtc"], utc=True)
    frame["sex"], frame["is_future"] = 0, False
    return frame


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    datasets.write(tmp_path, datasets.FEATURES, catalog())
    return LocalStorage(tmp_path)


async def put(storage: LocalStorage, payload: dict[str, Any] | bytes) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await storage.put("data-raw", SOURCE.split("/", 1)[1], data)


def odds_file(storage: LocalStorage) -> pd.DataFrame:
    return pd.read_parquet(storage.root / ODDS_FILE)


def test_the_real_packet_parses() -> None:
    events, skipped = parse_fonbet(FONBET.read_bytes(), SOURCE)
    assert {e.event_id for e in events} == {SPARTAK, NEVROZ, GENT} | UNLINKED
    spartak = next(e for e in events if e.event_id == SPARTAK)
    assert (spartak.home, spartak.away, spartak.odds) == ("Спартак М", "ЦСКА", (3.95, 2.6, 2.4))
    assert spartak.sport_id == 11935 and spartak.start.isoformat() == "2019-08-19T16:55:00+00:00"
    assert skipped == [
        "skipped 14 events: not football",
        "skipped 2 events: without full 1X2 odds (factors 921/922/923)",
    ]


async def test_linked_odds_land_in_the_odds_file_and_the_rest_are_reported(
    storage: LocalStorage,
) -> None:
    await put(storage, FONBET.read_bytes())
    result = await ingest_fonbet_odds(storage=storage, source=SOURCE)
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == (3, 0, 0, 0)
    assert result.unlinked == len(UNLINKED)
    for event_id in UNLINKED:
        assert sum(f"event {event_id} " in m for m in result.messages) == 1
    assert any("ambiguous, catalogue matches 505, 506" in m for m in result.messages)

    odds = odds_file(storage)
    assert odds.index.name == "match_id" and list(odds.index) == [501, 502, 503]
    assert ODDS.dtype_problems(odds) == []
    assert odds.to_dict("index") == {
        501: _row(3.95, 2.6, 2.4, SPARTAK, 11935),
        502: _row(5.2, 4.9, 1.47, NEVROZ, 12275),
        503: _row(1.05, 13.0, 24.0, GENT, 28640),
    }


async def test_a_replay_writes_nothing_and_existing_rows_are_kept(storage: LocalStorage) -> None:
    existing = pd.DataFrame(
        {"odd_home": [2.0, 9.9], "odd_draw": [3.0, 9.9], "odd_away": [4.0, 9.9]},
        index=pd.Index([77, 501], name="match_id"),
    )
    datasets.write(storage.root, ODDS_FILE, existing)
    await put(storage, FONBET.read_bytes())
    first = await ingest_fonbet_odds(storage=storage, source=SOURCE)
    assert (first.inserted, first.updated, first.unchanged) == (2, 1, 0)
    odds = odds_file(storage)
    assert list(odds.index) == [77, 501, 502, 503]
    assert odds.loc[77, "odd_home"] == 2.0 and odds.loc[501, "odd_home"] == 3.95

    written = (storage.root / ODDS_FILE).stat().st_mtime_ns
    again = await ingest_fonbet_odds(storage=storage, source=SOURCE)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert (storage.root / ODDS_FILE).stat().st_mtime_ns == written


async def test_the_grouped_factor_format_gives_the_same_odds(storage: LocalStorage) -> None:
    payload = packet()
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for factor in payload["customFactors"]:
        grouped[factor["e"]].append({k: v for k, v in factor.items() if k not in ("e", "isLive")})
    payload["customFactors"] = [
        {"e": e, "countAll": len(fs), "factors": fs} for e, fs in grouped.items()
    ]
    await put(storage, payload)
    result = await ingest_fonbet_odds(storage=storage, source=SOURCE)
    assert (result.inserted, result.unlinked) == (3, len(UNLINKED))
    assert odds_file(storage).loc[501, "odd_draw"] == 2.6


async def test_a_broken_packet_is_rejected_and_writes_nothing(storage: LocalStorage) -> None:
    payload = packet()
    event = next(e for e in payload["events"] if e["id"] == SPARTAK)
    event["startTime"] = "soon"
    await put(storage, payload)
    result = await ingest_fonbet_odds(storage=storage, source=SOURCE)
    assert result.rejected == len(payload["events"]) and result.inserted == 0
    (reason,) = result.messages
    assert f"event {SPARTAK} (Спартак М v ЦСКА) > startTime" in reason and "'soon'" in reason
    assert not (storage.root / ODDS_FILE).exists()


async def test_a_truncated_packet_is_rejected(storage: LocalStorage) -> None:
    data = FONBET.read_bytes()
    await put(storage, data[: len(data) - 100])
    result = await ingest_fonbet_odds(storage=storage, source=SOURCE)
    assert result.rejected == 1 and "truncated" in result.messages[0]
    assert not (storage.root / ODDS_FILE).exists()


@pytest.mark.parametrize("source", ["/tmp/fonbet.json", "../fonbet.json", "nope/fonbet.json"])
async def test_sources_outside_the_storage_are_refused(storage: LocalStorage, source: str) -> None:
    with pytest.raises(SourceRefused, match="refused"):
        await ingest_fonbet_odds(storage=storage, source=source)


def _row(home: float, draw: float, away: float, event: int, sport: int) -> dict[str, Any]:
    return {
        "odd_home": home,
        "odd_draw": draw,
        "odd_away": away,
        "fonbet_event_id": event,
        "fonbet_sport_id": sport,
    }
