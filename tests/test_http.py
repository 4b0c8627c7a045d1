"""The HTTP surface: probes, auth, limits, response cache and loader batching."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests import datasets
from tests.fixtures.server import LiveServer, ServeFactory

KEY = "s3cret-header-key"
TOKEN = "s3cret-query-token"
DEBUG = {"X-Matchgraph-Debug": "1"}  # asks for extensions.loaderBatches
PAGE = """query($f: Int!) { matches(first: $f) { edges { node {
  matchId prediction { probaHome } odds { home } features { value } region { roi { roi } }
} } } }"""


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small")
    datasets.write_set(root, 6000)
    return root


@pytest.fixture(scope="module")
def locked(serve: ServeFactory, small_dir: Path) -> LiveServer:
    return serve(data_dir=small_dir, header_token=KEY, query_token=TOKEN)


async def test_root_and_health(api: LiveServer) -> None:
    async with api.client() as client:
        root = (await client.get("/")).json()
        health = (await client.get("/health")).json()
    assert root["links"]["graphql"] == "/graphql"
    # No worker serves this API's queues: that, and only that, may be degraded.
    assert all(part.startswith("workers: no live worker") for part in health["degraded"])
    assert health["status"] == ("degraded" if health["degraded"] else "ok")
    assert health["pid"] == os.getpid()
    assert health["memoryMb"] > 10 and health["version"]


async def test_no_key_is_401_before_graphql(locked: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=locked.url) as client:
        response = await client.post("/graphql", json={"query": "{ matches { totalCount } }"})
        wrong = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"X-API-Key": KEY + "x"}
        )
    assert response.status_code == 401 and wrong.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_header_key_or_query_token_pass(locked: LiveServer) -> None:
    query = {"query": "{ matches { totalCount } }"}
    async with httpx.AsyncClient(base_url=locked.url) as client:
        by_header = await client.post("/graphql", json=query, headers={"X-API-Key": KEY})
        by_token = await client.post(f"/graphql?token={TOKEN}", json=query)
        crossed = await client.post(f"/graphql?token={KEY}", json=query)
    assert by_header.status_code == 200 and by_token.status_code == 200
    assert by_header.json()["data"]["matches"]["totalCount"] == 6000
    assert crossed.status_code == 401


async def test_probes_and_graphiql_page_stay_open(locked: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=locked.url) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 200
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert (await client.get("/")).status_code == 401
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "https://" not in page.text


@pytest.mark.parametrize("first", [10, 100, 1000, 5000])
async def test_a_page_is_planned_or_costs_one_batch_per_field_kind(
    serve: ServeFactory, small_dir: Path, first: int
) -> None:
    planned = await serve(data_dir=small_dir, response_cache_mb=0).graphql(
        PAGE, {"f": first}, headers=DEBUG
    )
    api = serve(data_dir=small_dir, response_cache_mb=0, planner=False)
    body = await api.graphql(PAGE, {"f": first}, headers=DEBUG)
    assert len(body["data"]["matches"]["edges"]) == first
    assert planned["data"] == body["data"]
    assert planned["extensions"]["plan"] == {"matches": "planned"}
    assert planned["extensions"]["loaderBatches"] == {}
    # without the planner: graphql-core, one loader batch per field kind
    assert body["extensions"]["plan"] == {}
    assert body["extensions"]["loaderBatches"] == {
        "prediction": 1,
        "odds": 1,
        "features": 1,
        "roi": 1,
    }


@pytest.mark.parametrize("planner", [True, False])
async def test_sibling_root_fields_share_one_batch(
    serve: ServeFactory, small_dir: Path, planner: bool
) -> None:
    api = serve(data_dir=small_dir, planner=planner)
    ids = await api.data("{ matches(first: 3) { edges { node { matchId } } } }")
    a, b, c = (e["node"]["matchId"] for e in ids["matches"]["edges"])
    query = f"""{{ a: match(matchId: {a}) {{ prediction {{ probaHome }} }}
                   b: match(matchId: {b}) {{ prediction {{ probaHome }} }}
                   c: match(matchId: {c}) {{ prediction {{ probaHome }} }} }}"""
    body = await api.graphql(query, headers=DEBUG)
    if planner:
        assert body["extensions"]["plan"] == dict.fromkeys("abc", "planned")
        assert body["extensions"]["loaderBatches"] == {}
    else:
        assert body["extensions"]["loaderBatches"] == {"match": 1, "prediction": 1}


async def test_identical_queries_hit_the_response_cache(
    serve: ServeFactory, small_dir: Path
) -> None:
    api = serve(data_dir=small_dir)
    async with api.client() as client:
        payload = {"query": PAGE, "variables": {"f": 20}}
        first = await client.post("/graphql", json=payload)
        second = await client.post("/graphql", json=payload)
        other = await client.post("/graphql", json={"query": PAGE, "variables": {"f": 21}})
        health = [await client.post("/graphql", json={"query": "{ health { pid } }"}) for _ in "ab"]
    assert first.headers["x-matchgraph-cache"] == "miss"
    assert second.headers["x-matchgraph-cache"] == "hit"
    assert second.content == first.content
    assert other.headers["x-matchgraph-cache"] == "miss"
    assert all("x-matchgraph-cache" not in h.headers for h in health)


async def test_a_data_refresh_invalidates_the_cache(serve: ServeFactory, tmp_path: Path) -> None:
    frame = datasets.write_set(tmp_path, 100, run_id="run-a")
    api = serve(data_dir=tmp_path, refresh_seconds=3600)
    query = "{ matches(first: 1) { edges { node { prediction { modelRunId } } } } }"
    assert (await api.data(query))["matches"]["edges"][0]["node"]["prediction"][
        "modelRunId"
    ] == "run-a"
    datasets.write(
        tmp_path, datasets.PREDICTIONS, datasets.predictions(frame.index, run_id="run-b")
    )
    await api.app.state.sources.refresh()
    assert (await api.data(query))["matches"]["edges"][0]["node"]["prediction"][
        "modelRunId"
    ] == "run-b"


async def test_limits_give_bad_user_input(serve: ServeFactory, small_dir: Path) -> None:
    api = serve(data_dir=small_dir, max_depth=4, max_aliases=3, max_tokens=60)
    deep = "{ matches { edges { node { region { matches { totalCount } } } } } }"
    aliases = "{ a: regions { name } b: regions { name } c: regions { name } d: regions { name } }"
    tokens = "{ " + " ".join(f"f{i}: __typename" for i in range(30)) + " }"
    for query in (deep, aliases, tokens):
        body = await api.graphql(query)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (query, body)


async def test_body_over_the_limit_is_413(serve: ServeFactory, small_dir: Path) -> None:
    api = serve(data_dir=small_dir, max_body_bytes=2048)
    async with api.client() as client:
        response = await client.post(
            "/graphql", json={"query": "{ __typename }", "pad": "x" * 4096}
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_introspection_can_be_switched_off(serve: ServeFactory, small_dir: Path) -> None:
    api = serve(data_dir=small_dir, introspection=False)
    body = await api.graphql("{ __schema { types { name } } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_batched_operations_are_refused(api: LiveServer) -> None:
    async with api.client() as client:
        response = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unknown_fields_and_syntax_errors_have_codes(api: LiveServer) -> None:
    unknown = await api.graphql("{ matches { nope } }")
    syntax = await api.graphql("{ matches { ")
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_get_queries_work(api: LiveServer) -> None:
    async with api.client() as client:
        response = await client.get("/graphql", params={"query": "{ matches { totalCount } }"})
    assert response.status_code == 200 and response.json()["data"]["matches"]["totalCount"] > 0


def test_production_refuses_to_run_open() -> None:
    from pydantic import ValidationError

    from graph.settings import Settings

    with pytest.raises(ValidationError, match="production"):
        Settings(env="production")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(env="production", header_token="changeme")
    assert Settings(env="production", header_token=KEY).auth_enabled


GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_graphql_response_media_type_is_negotiated(
    serve: ServeFactory, small_dir: Path
) -> None:
    api = serve(data_dir=small_dir)
    query = {"query": "{ matches(first: 1) { totalCount } }"}
    async with api.client() as client:
        preferred = f"{GRAPHQL_RESPONSE}, application/json;q=0.9"
        first = await client.post("/graphql", json=query, headers={"Accept": preferred})
        hit = await client.post("/graphql", json=query, headers={"Accept": GRAPHQL_RESPONSE})
        plain = await client.post("/graphql", json=query, headers={"Accept": "application/json"})
        anything = await client.post("/graphql", json=query, headers={"Accept": "*/*"})
    assert first.status_code == 200 and first.headers["x-matchgraph-cache"] == "miss"
    assert first.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert hit.headers["x-matchgraph-cache"] == "hit" and hit.content == first.content
    assert hit.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    for response in (plain, anything):
        assert response.headers["x-matchgraph-cache"] == "hit"
        assert response.headers["content-type"] == "application/json"
    assert first.json()["data"]["matches"]["totalCount"] == 6000


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "query($f: Int!) { matches(first: $f) { totalCount } }"}, "BAD_USER_INPUT"),
        (
            {
                "query": "query($f: Int!) { matches(first: $f) { totalCount } }",
                "variables": {"f": "x"},
            },
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_request_errors_are_400_without_data_for_graphql_response_json(
    api: LiveServer, payload: dict[str, object], code: str
) -> None:
    async with api.client() as client:
        strict = await client.post("/graphql", json=payload, headers={"Accept": GRAPHQL_RESPONSE})
        legacy = await client.post("/graphql", json=payload, headers={"Accept": "application/json"})
    assert strict.status_code == 400 and strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in strict.json()
    assert strict.json()["errors"][0]["extensions"]["code"] == code
    # application/json keeps answering 200 with `data: null`, as the spec asks
    assert legacy.status_code == 200 and legacy.json()["data"] is None
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


WRONG_TYPES = [{"obj": "ect"}, "string", 0, False, ["array"]]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("operationName", v) for v in WRONG_TYPES if not isinstance(v, str)]
    + [(p, v) for p in ("variables", "extensions") for v in WRONG_TYPES if not isinstance(v, dict)],
)
async def test_parameters_of_the_wrong_json_type_are_400(
    api: LiveServer, parameter: str, value: object
) -> None:
    query = "{ matches(first: 1) { totalCount } }"
    async with api.client() as client:
        fine = await client.post("/graphql", json={"query": query})  # cached from here on
        wrong = await client.post("/graphql", json={"query": query, parameter: value})
    assert fine.status_code == 200
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert parameter in wrong.json()["errors"][0]["message"]


@pytest.mark.parametrize("body", [b"null", b"1", b"true", b'"x"', b"[]", b"{", b""])
async def test_a_body_that_is_not_a_json_object_is_400(api: LiveServer, body: bytes) -> None:
    async with api.client() as client:
        response = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_subscriptions_over_http_point_to_the_websocket(api: LiveServer) -> None:
    subscription = 'subscription { task(id: "x") { status } }'
    named = 'query Q { __typename } subscription S { task(id: "x") { status } }'
    async with api.client() as client:
        answers = [
            await client.post("/graphql", json={"query": subscription}),
            await client.get("/graphql", params={"query": subscription}),
            await client.post(
                "/graphql",
                json={"query": subscription},
                headers={"Accept": GRAPHQL_RESPONSE},
            ),
            await client.post("/graphql", json={"query": named, "operationName": "S"}),
        ]
        query_in_same_document = await client.post(
            "/graphql", json={"query": named, "operationName": "Q"}
        )
    for response in answers:
        assert response.status_code == 400, response.text
        body = response.json()
        assert "data" not in body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "WEBSOCKET_REQUIRED"
        assert error["extensions"]["websocket"] == "/graphql"
        assert "WebSocket" in error["message"] and "/graphql" in error["message"]
    assert query_in_same_document.json()["data"] == {"__typename": "Query"}


async def test_several_operations_without_an_operation_name_is_a_request_error(
    api: LiveServer,
) -> None:
    """The spec's rule; Strawberry alone runs the first operation instead."""
    document = "query A { regions { name } } query B { matches(first: 1) { totalCount } }"
    async with api.client() as client:
        unnamed = await client.post("/graphql", json={"query": document})
        strict = await client.post(
            "/graphql", json={"query": document}, headers={"Accept": GRAPHQL_RESPONSE}
        )
        named = await client.post("/graphql", json={"query": document, "operationName": "B"})
    assert unnamed.status_code == 200 and unnamed.json()["data"] is None
    assert unnamed.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operationName" in unnamed.json()["errors"][0]["message"]
    assert strict.status_code == 400 and "data" not in strict.json()
    assert named.json()["data"]["matches"]["totalCount"] > 0
