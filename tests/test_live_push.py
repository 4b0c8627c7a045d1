"""Pushed data changes: `dataUpdated` and `liveScoreUpdates` on a real API over real
WebSockets, with the real ingestion function on PostgreSQL and a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from redis.asyncio import Redis

from graph.settings import Settings
from graph.sources.livescores import open_live_scores
from graph.sources.local import LocalStorage
from graph.taskqueue.livescore_events import open_live_score_publisher
from graph.taskqueue.results import IngestResult
from jobs.feeds.whoscored import ingest_livescores
from tests import datasets, feed_samples
from tests.fixtures.database import OwnPostgres, StatementLog
from tests.fixtures.server import LiveServer, ServeFactory, _ServerThread
from tests.fixtures.sse import EVENT_STREAM
from tests.fixtures.sse import events as sse_events
from tests.fixtures.worker import OwnRedis, redis_url
from tests.fixtures.ws import LEGACY_WS, TRANSPORT_WS, OpenSubscription

DATA_UPDATED = "subscription { dataUpdated { dataVersion changed at } }"
LIVE = """subscription($ids: [Int!]!) {
  liveScoreUpdates(matchIds: $ids) { matchId homeScore awayScore status } }"""
A, B, C = 990_000_001, 990_000_002, 990_000_003  # made-up matches of the live feed


def score(match_id: int, home: int, away: int, status: str) -> dict[str, Any]:
    return {"matchId": match_id, "homeScore": home, "awayScore": away, "status": status}


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def ingest(settings: Settings, scores: dict[int, tuple[int, int, str]]) -> IngestResult:
    """The ingestion job's own function, its rows announced as the worker announces them."""
    source = f"data-raw/feeds/push-{uuid.uuid4().hex[:8]}.json"
    path = settings.data_dir / source
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(feed_samples.whoscored_live(scores)))
    async with (
        open_live_score_publisher(settings) as publisher,
        open_live_scores(settings, on_change=publisher) as repository,
    ):
        storage = LocalStorage(settings.data_dir)
        return await ingest_livescores(storage=storage, repository=repository, source=source)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    datasets.write_set(tmp_path, 60)
    return tmp_path


@contextlib.asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[LiveServer]:
    """An API of its own, stopped before its database and Redis go."""
    server = _ServerThread(settings)
    url = await asyncio.to_thread(server.start)
    try:
        yield LiveServer(url=url, settings=settings, app=server.app)
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
def namespaced(redis_db: int, data_dir: Path, postgres_url: str) -> Settings:
    """The shared Redis (this session's database) under a namespace of this test's own."""
    return Settings(
        data_dir=data_dir,
        database_url=postgres_url,
        redis_url=redis_url(redis_db),
        redis_namespace=f"push-{uuid.uuid4().hex[:12]}",
    )


def feed_of(api: LiveServer) -> Any:
    return api.app.state.services.live_score_feed


async def subscribed(api: LiveServer, n: int) -> None:
    async def enough() -> bool:
        return bool(feed_of(api).subscribers >= n)

    await until(enough, f"{n} live-score subscribers")


# dataUpdated


async def test_data_updated_fires_once_per_changed_snapshot_set(
    serve: ServeFactory, tmp_path: Path
) -> None:
    frame = datasets.write_set(tmp_path, 200, run_id="run-a")
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    async with api.client() as client:
        before = (await client.get("/health")).json()["dataVersion"]
    async with (
        OpenSubscription(api.ws_url, DATA_UPDATED) as first,
        OpenSubscription(api.ws_url, DATA_UPDATED, protocol=LEGACY_WS) as legacy,
    ):
        for subscription in (first, legacy):  # the set in service when it began
            current = (await subscription.next_payload())["data"]["dataUpdated"]
            assert current["dataVersion"] == before and current["changed"] == []
        # Five re-checks or more that find nothing new tell nobody.
        assert await first.quiet(1.2) == [] and await legacy.quiet(0) == []

        datasets.write(
            tmp_path, datasets.PREDICTIONS, datasets.predictions(frame.index, run_id="run-b")
        )
        for subscription in (first, legacy):
            payload = await subscription.next_payload()
            assert "errors" not in payload, payload
            update = payload["data"]["dataUpdated"]
            assert update["changed"] == ["predictions"]
            assert update["dataVersion"] != before
        async with api.client() as client:
            after = (await client.get("/health")).json()["dataVersion"]
        assert update["dataVersion"] == after
        assert await first.quiet(1.2) == [] and await legacy.quiet(0) == []  # exactly once

        # A later subscriber starts from the set in service now, not from the change.
        async with OpenSubscription(api.ws_url, DATA_UPDATED) as late:
            now = (await late.next_payload())["data"]["dataUpdated"]
            assert (now["dataVersion"], now["changed"]) == (after, [])
            assert await late.quiet(0.6) == []

        odds = pd.DataFrame({"odd_home": 2.0, "odd_draw": 3.0, "odd_away": 4.0}, index=frame.index)
        datasets.write(tmp_path, datasets.ODDS, odds)
        update = (await first.next_payload())["data"]["dataUpdated"]
        assert update["changed"] == ["odds"]


# liveScoreUpdates


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_live_score_updates_reach_only_the_subscribers_of_their_match(
    namespaced: Settings, protocol: str
) -> None:
    await ingest(namespaced, {A: (0, 0, "1'"), B: (1, 0, "10'")})
    async with (
        running_api(namespaced) as api,
        OpenSubscription(api.ws_url, LIVE, {"ids": [A]}, protocol=protocol) as mine,
        OpenSubscription(api.ws_url, LIVE, {"ids": [B, C]}, protocol=protocol) as others,
        OpenSubscription(api.ws_url, LIVE, {"ids": [C, B, A]}, protocol=protocol) as all_three,
    ):
        # The current score of each match that has one, in the order asked.
        assert (await mine.next_payload())["data"]["liveScoreUpdates"] == score(A, 0, 0, "1'")
        assert (await others.next_payload())["data"]["liveScoreUpdates"] == score(B, 1, 0, "10'")
        initial = [(await all_three.next_payload())["data"]["liveScoreUpdates"] for _ in "ab"]
        assert initial == [score(B, 1, 0, "10'"), score(A, 0, 0, "1'")]
        await subscribed(api, 3)
        # However many subscribers: the process's one subscription (task events beside).
        names = namespaced.redis_names
        control = Redis.from_url(namespaced.redis_url)
        try:
            counts = dict(
                await control.pubsub_numsub(names.live_scores_channel, names.task_events_channel)
            )
        finally:
            await control.aclose()
        assert set(counts.values()) == {1}, counts

        result = await ingest(namespaced, {A: (1, 0, "23'"), B: (1, 0, "10'")})
        assert (result.updated, result.unchanged) == (1, 1)
        assert (await mine.next_payload())["data"]["liveScoreUpdates"] == score(A, 1, 0, "23'")
        assert (await all_three.next_payload())["data"]["liveScoreUpdates"] == score(A, 1, 0, "23'")
        # Nothing for B (unchanged) or C (never reported): its subscriber hears nothing.
        assert await others.quiet(0.5) == []

        await ingest(namespaced, {C: (0, 1, "5'")})  # a match that had no score yet
        assert (await others.next_payload())["data"]["liveScoreUpdates"] == score(C, 0, 1, "5'")
        assert await mine.quiet(0.3) == []
        assert None is mine.ended is others.ended is all_three.ended


async def test_live_score_updates_over_sse_reach_only_their_subscriber(
    namespaced: Settings,
) -> None:
    """The same subscription over Server-Sent Events (graphql-sse, distinct connections)."""
    await ingest(namespaced, {A: (0, 0, "1'"), B: (1, 0, "10'")})
    async with running_api(namespaced) as api, api.client(timeout=30) as client:

        def follow(ids: list[int]) -> Any:
            body = {"query": LIVE, "variables": {"ids": ids}}
            return client.stream("POST", "/graphql/stream", json=body, headers=EVENT_STREAM)

        async with follow([A]) as mine, follow([B]) as others:
            assert mine.status_code == others.status_code == 200
            mine_events, other_events = sse_events(mine), sse_events(others)

            async def next_score(stream: Any) -> Any:
                async with asyncio.timeout(15):
                    async for event in stream:
                        if event.event == "next":
                            return event.data["data"]["liveScoreUpdates"]
                raise AssertionError("the stream ended")

            assert await next_score(mine_events) == score(A, 0, 0, "1'")
            assert await next_score(other_events) == score(B, 1, 0, "10'")
            await subscribed(api, 2)
            await ingest(namespaced, {A: (2, 0, "30'"), B: (1, 0, "10'")})
            assert await next_score(mine_events) == score(A, 2, 0, "30'")
            with pytest.raises(TimeoutError):  # B did not change: its stream stays quiet
                async with asyncio.timeout(0.5):
                    await next_score(other_events)


@pytest.mark.parametrize(
    ("ids", "message"), [([], "at least one"), (list(range(1001)), "at most 1000")]
)
async def test_match_ids_are_limited(namespaced: Settings, ids: list[int], message: str) -> None:
    async with (
        running_api(namespaced) as api,
        OpenSubscription(api.ws_url, LIVE, {"ids": ids}) as refused,
    ):
        payload = await refused.next_payload()
        [error] = payload["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and message in error["message"]


def _unavailable(payload: dict[str, Any]) -> str:
    assert payload["data"] is None, payload
    [error] = payload["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
    assert error["path"] == ["liveScoreUpdates"]
    message: str = error["message"]
    return message


async def test_a_redis_outage_is_told_and_the_current_state_follows_it(
    own_redis: OwnRedis, data_dir: Path, postgres_url: str
) -> None:
    """Redis of the test's own: stopped, subscribers get SERVICE_UNAVAILABLE and stay;
    started again, they get the current scores, including what changed meanwhile."""
    settings = Settings(data_dir=data_dir, database_url=postgres_url, redis_url=own_redis.url)
    await ingest(settings, {A: (0, 0, "1'")})
    async with (
        running_api(settings) as api,
        OpenSubscription(api.ws_url, LIVE, {"ids": [A]}) as modern,
        OpenSubscription(api.ws_url, LIVE, {"ids": [A]}, protocol=LEGACY_WS) as legacy,
    ):
        for subscription in (modern, legacy):
            assert (await subscription.next_payload())["data"]["liveScoreUpdates"] == score(
                A, 0, 0, "1'"
            )
        await subscribed(api, 2)

        own_redis.stop()
        for subscription in (modern, legacy):
            assert "Redis" in _unavailable(await subscription.next_payload())
        result = await ingest(settings, {A: (2, 0, "44'")})  # committed; not announced
        assert result.updated == 1
        assert await modern.quiet(1.0) == [] and modern.ended is None and legacy.ended is None

        with StatementLog().listening() as log:  # the API's engine, in this process
            own_redis.start()
            for subscription in (modern, legacy):
                payload = await subscription.next_payload()
                assert payload["data"]["liveScoreUpdates"] == score(A, 2, 0, "44'"), payload
        assert len(log.touching("match_raw")) == 1  # re-reads that start together: one query
        await ingest(settings, {A: (2, 1, "60'")})  # and pushed as before
        for subscription in (modern, legacy):
            assert (await subscription.next_payload())["data"]["liveScoreUpdates"] == score(
                A, 2, 1, "60'"
            )


async def test_a_database_outage_is_told_and_the_current_state_follows_it(
    own_postgres: OwnPostgres, namespaced: Settings
) -> None:
    settings = namespaced.model_copy(update={"database_url": own_postgres.url})
    await ingest(settings, {A: (0, 0, "1'")})
    async with (
        running_api(settings) as api,
        OpenSubscription(api.ws_url, LIVE, {"ids": [A]}) as subscription,
    ):
        assert (await subscription.next_payload())["data"]["liveScoreUpdates"] == score(
            A, 0, 0, "1'"
        )
        await subscribed(api, 1)
        await asyncio.to_thread(own_postgres.stop)
        assert "database" in _unavailable(await subscription.next_payload(within=15))
        await asyncio.to_thread(own_postgres.start)
        payload = await subscription.next_payload(within=15)
        assert payload["data"]["liveScoreUpdates"] == score(A, 0, 0, "1'"), payload
        assert subscription.ended is None
