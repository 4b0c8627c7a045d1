"""Feed ingestion as tasks on a real worker, and the demo's live scores."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from graph.settings import Settings
from tests import feed_samples
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.worker import OwnRedis, WorkerProcess
from tests.fixtures.ws import OpenSubscription, subscribe

INGEST = "mutation($s: String!) { ingestLivescores(source: $s) { id kind status } }"
FOLLOW = """subscription($id: ID!) { task(id: $id) { status error
  ingestResult { inserted updated unchanged rejected messages } } }"""


@pytest.fixture(scope="module")
def live(serve: ServeFactory, live_settings: Settings, session_worker: WorkerProcess) -> LiveServer:
    return serve(data_dir=live_settings.data_dir, redis_url=live_settings.redis_url)


def _store(settings: Settings, key: str, payload: bytes) -> str:
    path = settings.data_dir / "data-raw" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return f"data-raw/{key}"


async def _ingest(live: LiveServer, source: str) -> dict[str, Any]:
    task = (await live.data(INGEST, {"s": source}))["ingestLivescores"]
    assert task["kind"] == "ingest_livescores"
    states = await subscribe(live.ws_url, FOLLOW, {"id": task["id"]})
    final: dict[str, Any] = states[-1]["task"]
    return final


async def test_ingest_the_real_whoscored_sample_through_the_mutation(
    live: LiveServer, live_settings: Settings
) -> None:
    source = _store(
        live_settings, "feeds/whoscored-2020-12.json", feed_samples.WHOSCORED.read_bytes()
    )
    first = await _ingest(live, source)
    assert first["status"] == "COMPLETE", first
    assert first["ingestResult"]["inserted"] + first["ingestResult"]["unchanged"] == 57
    again = await _ingest(live, source)
    assert again["ingestResult"] == {**again["ingestResult"], "inserted": 0, "updated": 0}
    assert again["ingestResult"]["unchanged"] == 57
    rows = await live.data("{ livescores(year: 2020, month: 12) { matchId status } }")
    expected = feed_samples.whoscored_expected(feed_samples.whoscored())
    assert [r["matchId"] for r in rows["livescores"]] == [e["matchId"] for e in expected]
    assert {r["status"] for r in rows["livescores"]} == {"FT"}


async def test_ingest_through_the_mutation_on_postgresql(
    serve: ServeFactory,
    start_worker: Any,
    live_settings: Settings,
    own_redis: OwnRedis,
    postgres_url: str,
) -> None:
    settings = live_settings.model_copy(
        update={"redis_url": own_redis.url, "database_url": postgres_url}
    )
    api = serve(data_dir=settings.data_dir, redis_url=own_redis.url, database_url=postgres_url)
    worker = start_worker(settings, queues="long")
    try:
        source = _store(settings, "feeds/whoscored-pg.json", feed_samples.WHOSCORED.read_bytes())
        first = await _ingest(api, source)
        assert first["status"] == "COMPLETE", first
        assert first["ingestResult"]["inserted"] == 57
        fields = "matchId startTimeUtc homeTeamName awayTeamName homeScore awayScore status"
        query = f"{{ livescores(year: 2020, month: 12) {{ {fields} region tournamentName }} }}"
        rows = (await api.data(query))["livescores"]
        assert rows == feed_samples.whoscored_expected(feed_samples.whoscored())
        again = await _ingest(api, source)
        assert again["ingestResult"]["unchanged"] == 57
    finally:
        worker.stop()


async def test_a_broken_feed_fails_with_a_reason(live: LiveServer, live_settings: Settings) -> None:
    payload = feed_samples.whoscored()
    payload["tournaments"][0]["matches"][0]["homeScore"] = "abc"
    source = _store(live_settings, "feeds/broken.json", json.dumps(payload).encode())
    final = await _ingest(live, source)
    assert final["status"] == "FAILED"
    assert "nothing written" in final["error"] and "homeScore" in final["error"]


async def test_sources_outside_the_storage_are_bad_user_input(live: LiveServer) -> None:
    body = await live.graphql(INGEST, {"s": "data-raw/../../etc/passwd"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_demo_fills_live_scores_for_finished_matches(
    live: LiveServer, demo_dir: Path, demo_summary: Any
) -> None:
    catalog = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    finished = catalog[~catalog["is_future"]]
    assert demo_summary.live_scores == len(finished)
    match_id = int(finished.index[-1])
    query = """query($m: Int!) { match(matchId: $m) {
      homeScore awayScore liveScore { homeScore awayScore status } } }"""
    match = (await live.data(query, {"m": match_id}))["match"]
    live_score = match["liveScore"]
    assert (live_score["homeScore"], live_score["awayScore"]) == (
        match["homeScore"],
        match["awayScore"],
    )
    assert live_score["status"] == "FT"


async def test_a_worker_ingestion_is_pushed_to_live_score_subscribers(
    live: LiveServer, live_settings: Settings
) -> None:
    """The real worker announces what its ingestion job committed; the API pushes it."""
    match_id, other = 990_000_101, 990_000_102
    query = """subscription($ids: [Int!]!) {
      liveScoreUpdates(matchIds: $ids) { matchId homeScore awayScore status } }"""
    async with (
        OpenSubscription(live.ws_url, query, {"ids": [match_id]}) as mine,
        OpenSubscription(live.ws_url, query, {"ids": [other]}) as theirs,
    ):
        feed = live.app.state.services.live_score_feed
        deadline = time.monotonic() + 15
        while feed.subscribers < 2:  # no row yet: registered, nothing sent
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        for home, status in ((0, "12'"), (1, "31'")):
            payload = json.dumps(feed_samples.whoscored_live({match_id: (home, 0, status)}))
            source = _store(live_settings, f"feeds/push-{home}.json", payload.encode())
            assert (await _ingest(live, source))["status"] == "COMPLETE"
            pushed = (await mine.next_payload())["data"]["liveScoreUpdates"]
            assert pushed == {
                "matchId": match_id, "homeScore": home, "awayScore": 0, "status": status
            }  # fmt: skip
        assert await theirs.quiet(0.3) == []
