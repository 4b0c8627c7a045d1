"""The operation time limit holds for CPU-bound work, and a client that hangs up stops its query.

The query below is 150 bytes and tens of millions of cards (5000 matches, each
with the matches of its region, each with the matches of its region): minutes
of pure Python whether the planner or graphql-core runs it (graphql-core used
to hold the event loop for all of it). Its estimated cost is far over the cost limit, so
these servers measure costs instead of enforcing them: the query must run to be stopped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from api.metrics import REGISTRY
from tests.fixtures.server import LiveServer, ServeFactory

HUGE = """{ matches(first: 5000) { edges { node { region { matches(first: 2000) {
  edges { node { region { matches(first: 2000) { edges { node { matchId } } } } } } } } } } } }"""
SMALL = "{ matches(first: 1) { totalCount } }"
STOPPED = "matchgraph_graphql_operations_stopped_total"


def stopped(reason: str) -> float:
    return REGISTRY.get_sample_value(STOPPED, {"reason": reason}) or 0.0


@pytest.fixture(scope="module")
def short_limit(serve: ServeFactory, demo_dir: Path) -> LiveServer:
    return serve(data_dir=demo_dir, operation_timeout=3, response_cache_mb=0, cost_mode="measure")


@pytest.fixture(scope="module")
def long_limit(serve: ServeFactory, demo_dir: Path) -> LiveServer:
    return serve(data_dir=demo_dir, operation_timeout=120, response_cache_mb=0, cost_mode="measure")


async def test_cpu_bound_operation_stops_at_the_limit_and_others_are_served_meanwhile(
    short_limit: LiveServer,
) -> None:
    before = stopped("timeout")
    async with short_limit.client() as client:
        huge = asyncio.create_task(client.post("/graphql", json={"query": HUGE}))
        await asyncio.sleep(0.3)  # the huge query is running
        small = await client.post("/graphql", json={"query": SMALL})
        # answered while the huge one still ran: it gives the loop turns
        assert not huge.done()
        assert small.json()["data"]["matches"]["totalCount"] > 0
        response = await huge
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"]
    assert "3 s limit" in body["errors"][0]["message"]
    assert stopped("timeout") == before + 1


async def test_a_client_that_hangs_up_stops_its_operation(long_limit: LiveServer) -> None:
    before, timeouts = stopped("disconnect"), stopped("timeout")
    async with long_limit.client(timeout=httpx.Timeout(60, read=0.5)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/graphql", json={"query": HUGE})
    # The client closed its connection; the server stops the query instead of running it
    # for tens of seconds under a 120 s limit.
    for _ in range(200):
        if stopped("disconnect") > before:
            break
        await asyncio.sleep(0.05)
    assert stopped("disconnect") == before + 1
    assert stopped("timeout") == timeouts  # the limit played no part
    data = await long_limit.data(SMALL)
    assert data["matches"]["totalCount"] > 0
