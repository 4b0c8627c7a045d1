"""Live scores through the real API over HTTP, on a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from graph.settings import Settings
from graph.sources.livescores import open_live_scores
from graph.sources.local import LocalStorage
from graph.taskqueue.results import IngestResult
from jobs.feeds.whoscored import ingest_livescores
from tests import datasets
from tests.feed_samples import WHOSCORED, whoscored, whoscored_catalog, whoscored_expected
from tests.fixtures.database import StatementLog
from tests.fixtures.server import LiveServer, ServeFactory, _ServerThread

SOURCE = "data-raw/feeds/whoscored.json"
FILLER = 5000 - 57  # catalogue rows besides the sample's, for a page of 5000
FIELDS = "matchId startTimeUtc homeTeamName awayTeamName homeScore awayScore status region "
FIELDS += "tournamentName"
DECEMBER = f"{{ livescores(year: 2020, month: 12) {{ {FIELDS} updatedAt }} }}"
DEBUG = {"X-Matchgraph-Debug": "1"}  # asks for extensions.plan and loaderBatches


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    """A data set whose catalogue holds the sample's 57 matches (first by time) and filler."""
    filler = datasets.write_set(tmp_path, FILLER)
    catalog = pd.concat([whoscored_catalog(whoscored()), filler])
    datasets.write(tmp_path, datasets.FEATURES, catalog)
    (tmp_path / "data-raw" / "feeds").mkdir(parents=True, exist_ok=True)
    (tmp_path / SOURCE).write_bytes(WHOSCORED.read_bytes())
    return tmp_path


@pytest.fixture
async def live_api(postgres_url: str, sample_dir: Path) -> AsyncIterator[LiveServer]:
    """An API of its own, stopped before its database is dropped."""
    settings = Settings(data_dir=sample_dir, database_url=postgres_url)
    server = _ServerThread(settings)
    url = await asyncio.to_thread(server.start)
    try:
        yield LiveServer(url=url, settings=settings, app=server.app)
    finally:
        await asyncio.to_thread(server.stop)


async def ingest(api: LiveServer) -> IngestResult:
    async with open_live_scores(api.settings) as repository:
        storage = LocalStorage(api.settings.data_dir)
        return await ingest_livescores(storage=storage, repository=repository, source=SOURCE)


def without(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != key} for row in rows]


async def test_the_sample_reads_back_exactly(live_api: LiveServer) -> None:
    result = await ingest(live_api)
    assert (result.inserted, result.rejected) == (57, 0)
    expected = whoscored_expected(whoscored())
    december = (await live_api.data(DECEMBER))["livescores"]
    assert without(december, "updatedAt") == expected

    page = await live_api.data(
        f"{{ matches(first: 57) {{ edges {{ node {{ matchId liveScore {{ {FIELDS} }} }} }} }} }}"
    )
    by_id = {row["matchId"]: row for row in expected}
    nodes = [edge["node"] for edge in page["matches"]["edges"]]
    assert {n["matchId"] for n in nodes} == set(by_id)
    assert all(n["liveScore"] == by_id[n["matchId"]] for n in nodes)
    one = expected[10]["matchId"]
    single = await live_api.data(f"{{ match(matchId: {one}) {{ liveScore {{ {FIELDS} }} }} }}")
    assert single["match"]["liveScore"] == by_id[one]

    replay = await ingest(live_api)
    assert (replay.inserted, replay.updated, replay.unchanged) == (0, 0, 57)
    assert (await live_api.data(DECEMBER))["livescores"] == december  # updatedAt unchanged


async def test_a_page_of_5000_matches_costs_one_live_score_query(live_api: LiveServer) -> None:
    await ingest(live_api)
    query = "{ matches(first: 5000) { edges { node { matchId liveScore { status } } } } }"
    with StatementLog().listening() as log:  # the API's engine, in this process
        body = await live_api.graphql(query, headers=DEBUG)
    assert "errors" not in body
    edges = body["data"]["matches"]["edges"]
    assert len(edges) == 5000
    assert sum(e["node"]["liveScore"] is not None for e in edges) == 57
    # a mixed operation: the page is planned, liveScore resolved by graphql-core inside it
    assert body["extensions"]["plan"] == {"matches": "planned"}
    assert body["extensions"]["loaderBatches"] == {"live_score": 1}
    assert len(log.touching("match_raw")) == 1


async def test_nested_pages_share_one_live_score_query(live_api: LiveServer) -> None:
    """One page per region, and still one query: the async loader batches across pages."""
    await ingest(live_api)
    query = """{ regions { name matches(first: 200) {
        edges { node { matchId liveScore { status } } } } } }"""
    with StatementLog().listening() as log:  # the API's engine, in this process
        body = await live_api.graphql(query, headers=DEBUG)
    assert "errors" not in body
    regions = body["data"]["regions"]
    pages = [r["matches"]["edges"] for r in regions if r["matches"]["edges"]]
    assert len(pages) > 5
    scored = sum(e["node"]["liveScore"] is not None for page in pages for e in page)
    assert scored > 0
    assert body["extensions"]["plan"] == {"regions": "planned"}
    assert body["extensions"]["loaderBatches"] == {"live_score": 1}
    assert len(log.touching("match_raw")) == 1


async def test_live_scores_are_never_served_from_the_response_cache(
    live_api: LiveServer,
) -> None:
    await ingest(live_api)
    for query in (DECEMBER, "{ matches(first: 2) { edges { node { liveScore { status } } } } }"):
        async with live_api.client() as client:
            responses = [await client.post("/graphql", json={"query": query}) for _ in "ab"]
        assert all("x-matchgraph-cache" not in r.headers for r in responses)
    async with live_api.client() as client:
        plain = "{ matches(first: 2) { totalCount } }"
        await client.post("/graphql", json={"query": plain})
        cached = await client.post("/graphql", json={"query": plain})
    assert cached.headers["x-matchgraph-cache"] == "hit"  # the cache itself works


async def test_livescores_arguments_out_of_range_are_bad_user_input(
    live_api: LiveServer,
) -> None:
    cases = {
        "y1": "year: 1997",
        "y2": "year: 2101",
        "m1": "month: 0",
        "m2": "month: 13",
        "l1": "limit: 0",
        "l2": "limit: 10001",
        "o1": "offset: -1",
    }
    aliases = " ".join(f"{a}: livescores({args}) {{ matchId }}" for a, args in cases.items())
    body = await live_api.graphql(f"{{ {aliases} ok: livescores {{ matchId }} }}")
    assert body["data"] == {**dict.fromkeys(cases), "ok": []}  # default: this month, empty
    codes = {e["path"][0]: e["extensions"]["code"] for e in body["errors"]}
    assert codes == dict.fromkeys(cases, "BAD_USER_INPUT")
    limits = await live_api.data(
        "{ a: livescores(year: 1998, month: 1, limit: 10000, offset: 0) { matchId } "
        "b: livescores(year: 2100, month: 12, limit: 1) { matchId } }"
    )
    assert limits == {"a": [], "b": []}


async def test_paging_through_a_month(live_api: LiveServer) -> None:
    await ingest(live_api)
    expected = [r["matchId"] for r in whoscored_expected(whoscored())]
    query = "{ livescores(year: 2020, month: 12, limit: 20, offset: %d) { matchId } }"
    pages = [(await live_api.data(query % offset))["livescores"] for offset in (0, 20, 40)]
    assert [row["matchId"] for page in pages for row in page] == expected


async def test_a_down_database_fails_only_its_fields_and_fast(
    serve: ServeFactory, tmp_path: Path, dead_database_url: str
) -> None:
    datasets.write_set(tmp_path, 100)
    api = serve(data_dir=tmp_path, database_url=dead_database_url)
    query = """{ matches(first: 3) { edges { node { matchId liveScore { status }
                 prediction { probaHome } } } }
                 livescores(year: 2020, month: 12) { matchId } }"""
    started = time.perf_counter()
    body = await api.graphql(query)
    assert time.perf_counter() - started < 5
    nodes = [edge["node"] for edge in body["data"]["matches"]["edges"]]
    assert len(nodes) == 3
    assert all(n["prediction"]["probaHome"] == 0.5 and n["liveScore"] is None for n in nodes)
    assert body["data"]["livescores"] is None
    failing = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert failing == {
        ("livescores",): "SERVICE_UNAVAILABLE",
        **{("matches", "edges", i, "node", "liveScore"): "SERVICE_UNAVAILABLE" for i in range(3)},
    }
    assert all("127.0.0.1" not in e["message"] for e in body["errors"])
    async with api.client() as client:
        ready = await client.get("/ready")
    assert ready.status_code == 200
    assert any("live-score database" in part for part in ready.json()["degraded"])
