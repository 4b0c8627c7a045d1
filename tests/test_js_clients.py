"""The JavaScript clients our users run (tests/js: graphql-ws, graphql-sse, graphql-http,
Apollo) against the real API over real HTTP, WebSocket and Server-Sent Events, with a real
worker behind live predictions.

`make test` installs them (`npm ci` in tests/js) before pytest runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import websockets

from graph.settings import Settings
from tests import feed_samples
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.worker import WorkerProcess, redis_url
from tests.fixtures.ws import LEGACY_WS, TRANSPORT_WS, subscribe

JS_DIR = Path(__file__).parent / "js"
KEY = "js-clients-key"


def run_node(script: str, url: str, *args: object, api_key: str | None = None) -> dict[str, Any]:
    """Run one tests/js script against `url`; the JSON line it printed."""
    node = shutil.which("node")
    assert node is not None, "node (>= 20) is needed for the JavaScript client tests"
    assert (JS_DIR / "node_modules").is_dir(), "run `make test` (it runs `npm ci` in tests/js)"
    env = {**os.environ, "TIMEOUT_MS": "60000"}
    env.pop("API_KEY", None)
    if api_key is not None:
        env["API_KEY"] = api_key
    completed = subprocess.run(
        [node, script, url, *map(str, args)],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing (exit {completed.returncode}):\n{completed.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.fixture(scope="module")
def live(serve: ServeFactory, live_settings: Settings, session_worker: WorkerProcess) -> LiveServer:
    return serve(data_dir=live_settings.data_dir, redis_url=live_settings.redis_url)


@pytest.fixture(scope="module")
def upcoming(demo_dir: Path) -> int:
    """A future match with every feature: the worker can predict it."""
    catalog = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    ready = catalog[catalog["is_future"] & catalog.filter(like="diff_").notna().all(axis=1)]
    return int(ready.index[0])


def assert_followed_to_completion(result: dict[str, Any], match_id: int) -> None:
    assert "error" not in result, result
    assert result["completed"] is True and result["matchId"] == match_id
    assert result["statuses"][0] == "QUEUED" and result["statuses"][-1] == "COMPLETE", result
    assert set(result["statuses"]) <= {"QUEUED", "IN_PROGRESS", "COMPLETE"}
    assert 0 < result["last"]["result"]["probaHome"] < 1


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_websocket_messages_are_text_frames(api: LiveServer, protocol: str) -> None:
    """JS clients (npm graphql-ws, browsers) cannot read binary frames."""
    start = "subscribe" if protocol == TRANSPORT_WS else "start"
    frames: list[str | bytes] = []
    async with websockets.connect(api.ws_url, subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        frames.append(await asyncio.wait_for(ws.recv(), 30))
        # An unknown task: its subscription sends NOT_FOUND and completes (no worker needed).
        operation = {"query": 'subscription { task(id: "no-such-task") { status } }'}
        await ws.send(json.dumps({"id": "1", "type": start, "payload": operation}))
        async with asyncio.timeout(30):
            while not frames or json.loads(frames[-1])["type"] != "complete":
                frames.append(await ws.recv())
    assert [type(frame) for frame in frames] == [str] * len(frames)
    types = [json.loads(frame)["type"] for frame in frames]
    assert types[0] == "connection_ack" and types[-1] == "complete"
    assert {"next", "data"} & set(types)


def test_graphql_ws_client_queries_and_follows_a_prediction(
    live: LiveServer, upcoming: int
) -> None:
    result = run_node("ws-client.mjs", live.url + "/graphql", upcoming)
    assert_followed_to_completion(result, upcoming)
    assert len(result["query"]["matches"]["edges"]) == 2


def test_apollo_client_http_link_and_graphql_ws_link(live: LiveServer, upcoming: int) -> None:
    result = run_node("apollo.mjs", live.url + "/graphql", upcoming)
    assert_followed_to_completion(result, upcoming)
    edges = result["query"]["matches"]["edges"]
    assert len(edges) == 2 and all(isinstance(e["node"]["matchId"], int) for e in edges)
    # Apollo asks for the GraphQL-over-HTTP media type first, and gets it.
    assert result["responseContentType"].startswith("application/graphql-response+json")


def test_apollo_persisted_query_link(serve: ServeFactory, demo_dir: Path, redis_db: int) -> None:
    """Apollo Client's createPersistedQueryLink (automatic persisted queries, api/persisted):
    hash only, PERSISTED_QUERY_NOT_FOUND, the link's retry with the document; then other
    clients' hash-only requests (POST, and GET) are answered."""
    tag = uuid.uuid4().hex[:8]
    server = serve(
        data_dir=demo_dir, redis_url=redis_url(redis_db), redis_namespace=f"apq-js-{tag}"
    )
    result = run_node("apollo-persisted.mjs", server.url + "/graphql", tag)
    assert "error" not in result, result
    first, second, third = result["clients"]
    assert [(r["method"], r["hashOnly"], r["code"]) for r in first["requests"]] == [
        ("POST", True, "PERSISTED_QUERY_NOT_FOUND"),
        ("POST", False, None),  # the retry, with the document (and its hash: registered)
    ]
    assert first["requests"][1]["withQuery"]
    edges = first["data"][f"m{tag}"]["edges"]
    assert len(edges) == 2 and all(isinstance(e["node"]["matchId"], int) for e in edges)
    for later, method in ((second, "POST"), (third, "GET")):
        assert [(r["method"], r["hashOnly"], r["code"]) for r in later["requests"]] == [
            (method, True, None)
        ], later
        assert later["data"] == first["data"]


def test_graphql_ws_client_with_an_api_key(
    serve: ServeFactory, live_settings: Settings, session_worker: WorkerProcess, upcoming: int
) -> None:
    keyed = serve(
        data_dir=live_settings.data_dir, redis_url=live_settings.redis_url, header_token=KEY
    )
    result = run_node("ws-client.mjs", keyed.url + "/graphql", upcoming, api_key=KEY)
    assert_followed_to_completion(result, upcoming)
    refused = run_node("ws-client.mjs", keyed.url + "/graphql", upcoming, api_key=KEY + "x")
    assert refused["error"]["closeCode"] == 4403, refused
    anonymous = run_node("ws-client.mjs", keyed.url + "/graphql", upcoming)
    assert anonymous["error"]["closeCode"] == 4403, anonymous


@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_graphql_sse_client_queries_and_follows_a_prediction(
    live: LiveServer, upcoming: int, mode: str
) -> None:
    """npm graphql-sse in both modes: distinct connections (one POST stream per operation)
    and single connection (PUT reservation, one GET stream, POSTed operations)."""
    result = run_node("sse-client.mjs", live.url + "/graphql/stream", mode, upcoming)
    assert_followed_to_completion(result, upcoming)
    assert len(result["query"]["matches"]["edges"]) == 2


@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_graphql_sse_client_with_an_api_key(
    serve: ServeFactory,
    live_settings: Settings,
    session_worker: WorkerProcess,
    upcoming: int,
    mode: str,
) -> None:
    keyed = serve(
        data_dir=live_settings.data_dir, redis_url=live_settings.redis_url, header_token=KEY
    )
    url = keyed.url + "/graphql/stream"
    result = run_node("sse-client.mjs", url, mode, upcoming, api_key=KEY)
    assert_followed_to_completion(result, upcoming)
    refused = run_node("sse-client.mjs", url, mode, upcoming, api_key=KEY + "x")
    assert refused["error"]["status"] == 401, refused
    anonymous = run_node("sse-client.mjs", url, mode, upcoming)
    assert anonymous["error"]["status"] == 401, anonymous


def test_graphql_over_http_audit_passes_every_level(api: LiveServer) -> None:
    """graphql-http's auditServer, response cache on (as served): every MUST, SHOULD, MAY."""
    result = run_node("audit.mjs", api.url + "/graphql")
    assert result["failures"] == [], json.dumps(result["failures"], indent=1)
    levels = result["levels"]
    assert {level: (c["ok"], c["total"]) for level, c in levels.items()} == {
        "MUST": (13, 13),
        "SHOULD": (23, 23),
        "MAY": (25, 25),
    }


async def test_graphql_ws_client_follows_live_score_updates(
    live: LiveServer, live_settings: Settings
) -> None:
    """npm graphql-ws's `iterate`: the current score, then a change the worker ingested."""
    match_id = 990_000_201
    feeds = live_settings.data_dir / "data-raw" / "feeds"
    feeds.mkdir(parents=True, exist_ok=True)

    async def ingest(home: int, status: str) -> None:
        payload = feed_samples.whoscored_live({match_id: (home, 0, status)})
        (feeds / f"js-{home}.json").write_text(json.dumps(payload))
        query = "mutation($s: String!) { ingestLivescores(source: $s) { id } }"
        task = (await live.data(query, {"s": f"data-raw/feeds/js-{home}.json"}))["ingestLivescores"]
        follow = "subscription($id: ID!) { task(id: $id) { status } }"
        states = await subscribe(live.ws_url, follow, {"id": task["id"]})
        assert states[-1]["task"]["status"] == "COMPLETE", states

    await ingest(0, "3'")
    client = asyncio.create_task(
        asyncio.to_thread(run_node, "live-scores.mjs", live.url + "/graphql", match_id, 2)
    )
    feed = live.app.state.services.live_score_feed
    deadline = time.monotonic() + 60
    while feed.subscribers < 1:
        assert not client.done() and time.monotonic() < deadline, "no subscriber"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # its current score read first (a later read would hold 2-0)
    await ingest(2, "50'")
    result = await client
    assert "error" not in result, result
    assert [p["data"]["liveScoreUpdates"] for p in result["payloads"]] == [
        {"matchId": match_id, "homeScore": 0, "awayScore": 0, "status": "3'"},
        {"matchId": match_id, "homeScore": 2, "awayScore": 0, "status": "50'"},
    ]
