"""WhoScored livescores ingestion: the real sample, replays, broken payloads, refused sources."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graph.sources.livescores import LiveScoreRepository
from graph.sources.local import LocalStorage
from jobs.feeds.errors import SourceRefused
from jobs.feeds.payloads import PayloadRejected
from jobs.feeds.whoscored import ingest_livescores, parse_livescores
from jobs.feeds.whoscored_models import parse_feed_time
from tests.feed_samples import WHOSCORED as SAMPLE
from tests.feed_samples import whoscored as sample
from tests.feed_samples import whoscored_expected as expected_rows

SOURCE = "data-raw/feeds/livescores.json"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path)


async def put(storage: LocalStorage, data: bytes, source: str = SOURCE) -> None:
    bucket, key = source.split("/", 1)
    await storage.put(bucket, key, data)


async def test_the_real_sample_is_stored_and_a_replay_changes_nothing(
    storage: LocalStorage, repository: LiveScoreRepository
) -> None:
    await put(storage, SAMPLE.read_bytes())
    first = await ingest_livescores(storage=storage, repository=repository, source=SOURCE)
    assert (first.inserted, first.updated, first.unchanged, first.rejected) == (57, 0, 0, 0)
    stored = await repository.month(2020, 12, limit=100)
    assert [
        {
            "matchId": r.match_id,
            "startTimeUtc": r.start_time_utc.isoformat() if r.start_time_utc else None,
            "homeTeamName": r.home_team_name,
            "awayTeamName": r.away_team_name,
            "homeScore": r.home_score,
            "awayScore": r.away_score,
            "status": r.status,
            "region": r.region,
            "tournamentName": r.tournament,
        }
        for r in stored
    ] == expected_rows(sample())

    second = await ingest_livescores(storage=storage, repository=repository, source=SOURCE)
    assert (second.inserted, second.updated, second.unchanged, second.rejected) == (0, 0, 57, 0)
    assert await repository.month(2020, 12, limit=100) == stored  # updated_at too


async def test_a_changed_score_is_one_update(
    storage: LocalStorage, repository: LiveScoreRepository
) -> None:
    payload = sample()
    await put(storage, json.dumps(payload).encode())
    await ingest_livescores(storage=storage, repository=repository, source=SOURCE)
    payload["tournaments"][0]["matches"][0]["homeScore"] = 7
    await put(storage, json.dumps(payload).encode())
    result = await ingest_livescores(storage=storage, repository=repository, source=SOURCE)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 56)


async def test_a_truncated_file_is_rejected_and_writes_nothing(
    storage: LocalStorage, repository: LiveScoreRepository
) -> None:
    data = SAMPLE.read_bytes()
    await put(storage, data[: len(data) // 2])
    result = await ingest_livescores(storage=storage, repository=repository, source=SOURCE)
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == (0, 0, 0, 1)
    assert "not valid JSON" in result.messages[0] and "truncated" in result.messages[0]
    assert await repository.month(2020, 12, limit=100) == []


async def test_a_type_broken_match_rejects_the_whole_payload(
    storage: LocalStorage, repository: LiveScoreRepository
) -> None:
    payload = sample()
    broken = payload["tournaments"][0]["matches"][3]
    broken["homeScore"] = "abc"
    await put(storage, json.dumps(payload).encode())
    result = await ingest_livescores(storage=storage, repository=repository, source=SOURCE)
    assert (result.inserted, result.rejected) == (0, 57)
    (reason,) = result.messages
    assert f"match {broken['id']}" in reason and broken["homeTeamName"] in reason
    assert "homeScore" in reason and "'abc'" in reason and "integer" in reason
    assert "Traceback" not in reason
    assert await repository.month(2020, 12, limit=100) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"startTimeUtc": "yesterday", "startTime": "yesterday"}, ["startTimeUtc", "dd/mm/YYYY"]),
        ({"awayTeamName": None}, ["awayTeamName", "string"]),
        ({"id": "1485260"}, ["id", "integer"]),
        ({"homeScore": "1"}, ["homeScore", "integer"]),
        ({"homeScore": -1}, ["homeScore", "greater than or equal to 0"]),
    ],
)
async def test_reasons_name_the_field(change: dict[str, Any], words: list[str]) -> None:
    payload = sample()
    payload["tournaments"][0]["matches"][0].update(change)
    with pytest.raises(PayloadRejected) as raised:
        parse_livescores(json.dumps(payload).encode(), SOURCE)
    text = "; ".join(raised.value.reasons)
    assert "tournament 'Premier League' > match" in text
    for word in words:
        assert word in text


def test_both_date_formats_and_start_time_fallback() -> None:
    payload = sample()
    match = payload["tournaments"][0]["matches"][0]
    del match["startTimeUtc"]
    match["startTime"] = "05/12/2020 12:30:00"
    other = payload["tournaments"][0]["matches"][1]
    other["startTimeUtc"] = "2020-12-05T16:00:00+01:00"
    rows = {r.match_id: r for r in parse_livescores(json.dumps(payload).encode(), SOURCE)}
    assert rows[match["id"]].start_time_utc == datetime(2020, 12, 5, 12, 30, tzinfo=UTC)
    assert rows[other["id"]].start_time_utc == datetime(2020, 12, 5, 15, 0, tzinfo=UTC)
    for text in ("26/12/2020 15:00:00", "2020-12-26T15:00:00", "2020-12-26T15:00:00Z"):
        assert parse_feed_time(text) == datetime(2020, 12, 26, 15, tzinfo=UTC)


def test_the_feeds_sex_is_not_ours_and_extra_fields_are_fine() -> None:
    payload = sample()
    payload["tournaments"][0]["sex"] = "women, surely"
    payload["tournaments"][0]["matches"][0]["somethingNew"] = {"nested": [1, 2]}
    assert len(parse_livescores(json.dumps(payload).encode(), SOURCE)) == 57


def test_a_match_listed_twice_with_different_scores_is_refused() -> None:
    payload = sample()
    matches = payload["tournaments"][0]["matches"]
    matches.append({**matches[0], "homeScore": 9})
    with pytest.raises(PayloadRejected, match=f"match {matches[0]['id']} is listed twice"):
        parse_livescores(json.dumps(payload).encode(), SOURCE)


@pytest.mark.parametrize(
    "source",
    [
        "/etc/passwd",
        "../data-raw/feeds/livescores.json",
        "data-raw/../predictions/match_features.parquet",
        "data-raw/feeds/../../x.json",
        "secrets/livescores.json",
        "data-raw/",
        "data-raw/feeds/missing.json",
    ],
)
async def test_sources_outside_the_storage_are_refused(
    storage: LocalStorage, repository: LiveScoreRepository, source: str
) -> None:
    await put(storage, SAMPLE.read_bytes())
    with pytest.raises(SourceRefused, match=r"source .* (refused|does not exist)"):
        await ingest_livescores(storage=storage, repository=repository, source=source)
    assert await repository.month(2020, 12, limit=100) == []
