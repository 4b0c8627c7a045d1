"""Cost analysis before execution (graph/cost): the estimator in-process, the hook over HTTP
and WebSocket.

The estimator is checked on the real schema's declared weights (IBM cost spec:
objects 1, scalars and enums 0, lists times their size); the hook with real
servers: a refused operation never reaches an executor (counted at the one
entry both executors share, and by the loaders and the planner staying idle),
measure mode executes, a dry run executes nothing and never touches the
response cache.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from graphql import (
    GraphQLObjectType,
    VariableValues,
    get_named_type,
    get_nullable_type,
    get_variable_values,
    is_composite_type,
)
from graphql import parse as parse_document
from graphql.language import OperationDefinitionNode

from api.graphql_view import COST_ONLY_HEADER
from api.metrics import REGISTRY
from bench.queries import CARDS
from graph.adapters.strawberry import DEFINITION_KEY, graphql_core_schema
from graph.cost.directives import ListSize
from graph.cost.estimate import CostModel, operation_fragments
from graph.planner.execution import PlannedExecutionContext
from graph.schema import build_schema
from graph.settings import Settings
from tests import datasets
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.ws import TRANSPORT_WS

README = Path(__file__).resolve().parents[1] / "README.md"
SCHEMA = graphql_core_schema(build_schema(Settings()))
MODEL = CostModel(SCHEMA)
DEBUG = {"X-Matchgraph-Debug": "1"}
DRY_RUN = {COST_ONLY_HEADER: "1"}
GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}
# A 5000-card page with every loader-backed field, features included (tests/test_http.py's).
PAGE = """query($f: Int!) { matches(first: $f) { edges { node {
  matchId prediction { probaHome } odds { home } features { value } region { roi { roi } }
} } } }"""
PAGE_COST = 1 + 5000 * (1 + 1 + 1 + 1 + 20 + 1 + 1)  # matches, then per edge: edge, node,
# prediction, odds, 20 features (assumed), region, roi


def estimate(query: str, variables: dict[str, Any] | None = None) -> int:
    document = parse_document(query)
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    values = get_variable_values(SCHEMA, operation.variable_definitions or (), variables or {})
    assert isinstance(values, VariableValues), values
    return MODEL.estimate(operation, operation_fragments(document.definitions), values)


def readme_first_query() -> str:
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S)
    (query,) = [b for b in blocks if "matches(first: 5, futureOnly: true)" in b]
    return query


# --- the declared weights ----------------------------------------------------------------------


def test_every_list_of_objects_declares_its_size() -> None:
    """A list of objects with no size would count UNSIZED_LIST items: every one of ours has
    a @listSize, or is sized by every field that returns its parent (`sizedFields`)."""
    sized_by_parent: dict[str, set[str]] = {}
    returns: dict[str, list[tuple[str, str]]] = {}
    for type_name, named in SCHEMA.type_map.items():
        if type_name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        for field_name, field in named.fields.items():
            returns.setdefault(get_named_type(field.type).name, []).append((type_name, field_name))
            weights = MODEL.weights(type_name, field_name)
            if weights is not None and weights.sized_fields:
                target = get_named_type(field.type).name
                sized_by_parent.setdefault(target, set()).update(weights.sized_fields)
    unsized = []
    for type_name, named in SCHEMA.type_map.items():
        if type_name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        for field_name, field in named.fields.items():
            nullable = get_nullable_type(field.type)  # type: ignore[arg-type]
            if not hasattr(nullable, "of_type") or not is_composite_type(
                get_named_type(field.type)
            ):
                continue
            weights = MODEL.weights(type_name, field_name)
            own = weights is not None and (weights.assumed_size or weights.slicing_arguments)
            if not own and field_name not in sized_by_parent.get(type_name, set()):
                unsized.append(f"{type_name}.{field_name}")
    assert unsized == []
    # both fields that return a connection size its edges
    assert sorted(returns["MatchConnection"]) == [("Query", "matches"), ("Region", "matches")]
    for type_name, field_name in returns["MatchConnection"]:
        weights = MODEL.weights(type_name, field_name)
        assert weights is not None and weights.sized_fields == ("edges",)


def test_directives_are_in_the_exported_schema() -> None:
    sdl = (README.parent / "schema.graphql").read_text()
    assert "directive @cost(weight: Int!) on FIELD_DEFINITION" in sdl
    assert (
        "directive @listSize(assumedSize: Int, slicingArguments: [String!], "
        "sizedFields: [String!]) on FIELD_DEFINITION"
    ) in sdl
    assert '@listSize(slicingArguments: ["first"], sizedFields: ["edges"])' in sdl
    assert sdl.count("@cost(weight: 100)") == 3  # predictMatch twice, predictFeatures
    field = SCHEMA.type_map["Match"].fields["features"]  # type: ignore[attr-defined]
    assert ListSize(assumed_size=20) in field.extensions[DEFINITION_KEY].directives


# --- the estimator -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ("{ match(matchId: 1) { matchId homeTeamName outcome isFuture } }", 1),  # scalars, enum
        ("{ match(matchId: 1) { prediction { probaHome } odds { home } } }", 3),
        ("{ match(matchId: 1) { region { roi { roi } } value { best } } }", 4),
        ("{ matches { totalCount } }", 1),  # the connection; no edges asked
        ("{ matches { edges { node { matchId } } } }", 1 + 50 * 2),  # first's default: 50
        ("{ matches(first: null) { edges { node { matchId } } } }", 1 + 50 * 2),
        ("{ matches(first: 10) { edges { cursor node { matchId } } } }", 1 + 10 * 2),
        ("{ matches(first: -3) { edges { node { matchId } } } }", 1),  # a negative size is 0
        ("{ matches(first: 2) { pageInfo { endCursor } edges { node { matchId } } } }", 6),
        ("{ regions { name } }", 100),  # assumedSize
        ("{ regions { matches(first: 3) { edges { node { matchId } } } } }", 100 * (1 + 1 + 6)),
        ("{ match(matchId: 1) { features { name value } } }", 1 + 20),
        ('{ match(matchId: 1) { features(names: ["a"]) { name } } }', 1 + 20),
        ("{ livescores(year: 2026, month: 10) { matchId } }", 10_000),  # no limit: assumed
        ("{ livescores(year: 2026, month: 10, limit: 5) { matchId } }", 5),
        ("{ calibration { bins { count } } }", 1 + 10),  # `bins` sizes Calibration.bins
        ("{ calibration(bins: 4) { matches bins { count } } }", 1 + 4),
        ("{ backtest { bets byRegion { bets } } }", 1 + 100),
        ("{ model { metrics { name } params { name } } }", 1 + 50 + 50),
        ("{ __typename }", 0),
        ("{ __schema { types { name fields { name type { name } } } } }", 0),  # introspection
        ('{ __type(name: "Match") { name } match(matchId: 1) { __typename } }', 1),
        ("mutation { predictMatch(matchId: 1) { id status result { probaHome } } }", 100 + 1),
        (
            "mutation { predictFeatures(features: [], women: false, wait: true) { id } }",
            100,
        ),
        ('mutation { ingestLivescores(source: "a/b") { id } }', 1),
        ("subscription { predictMatch(matchId: 1) { id result { probaHome } } }", 100 + 1),
        ("subscription { dataUpdated { dataVersion changed } }", 1),
        ("subscription { liveScoreUpdates(matchIds: [1, 2]) { matchId } }", 1),
    ],
)
def test_fields_lists_and_slicing(query: str, cost: int) -> None:
    assert estimate(query) == cost


def test_fragments_inline_fragments_and_aliases() -> None:
    query = """query { a: match(matchId: 1) { ...Joins } b: match(matchId: 2) {
        ... on Match { prediction { probaHome } } ... { odds { home } } } }
      fragment Joins on Match { prediction { probaHome } odds { home } }"""
    assert estimate(query) == (1 + 2) + (1 + 2)
    # The same fields twice (a fragment spread twice, a field repeated) merge: counted once.
    merged = """{ match(matchId: 1) { ...P ...P prediction { probaDraw } ... on Match { ...P } } }
      fragment P on Match { prediction { probaHome } }"""
    assert estimate(merged) == 1 + 1
    # Aliases are separate response keys: each is counted.
    aliased = "{ match(matchId: 1) { p: prediction { probaHome } q: prediction { probaDraw } } }"
    assert estimate(aliased) == 1 + 2
    # Nested pages multiply: 2 matches x (region + its page of 3).
    nested = """{ matches(first: 2) { edges { node { region { matches(first: 3) {
        edges { node { ...Card } } } } } } } }
      fragment Card on Match { prediction { probaHome } }"""
    assert estimate(nested) == 1 + 2 * (1 + 1 + 1 + 1 + 3 * (1 + 1 + 1))


def test_an_abstract_type_costs_its_most_expensive_possible_type() -> None:
    query = """query($id: ID!) { node(id: $id) { id
        ... on Match { prediction { probaHome } }
        ... on Region { roi { roi } matches(first: 4) { edges { node { matchId } } } } } }"""
    assert estimate(query, {"id": "x"}) == 1 + max(1, 1 + 1 + 4 * 2)
    fragment = 'query { node(id: "x") { ...M } } fragment M on Match { odds { home } }'
    assert estimate(fragment) == 1 + 1  # on Region, the fragment does not apply: 1


def test_skip_include_and_variables() -> None:
    query = """query($n: Int, $skip: Boolean!, $with: Boolean = true) {
      matches(first: $n) { edges { node {
        prediction @skip(if: $skip) { probaHome }
        odds @include(if: $with) { home }
        ... @include(if: $skip) { value { best } }
        ...Region @skip(if: $skip) } } } }
      fragment Region on Match { region { name } }"""
    # n=7: 1 + 7 x (edge + node + prediction + odds + region)
    assert estimate(query, {"n": 7, "skip": False}) == 1 + 7 * 5
    # skip: prediction and region out, value in
    assert estimate(query, {"n": 7, "skip": True}) == 1 + 7 * 4
    assert estimate(query, {"n": 7, "skip": True, "with": False}) == 1 + 7 * 3
    # $n absent: the argument's default (50); null: the same
    assert estimate(query, {"skip": False}) == 1 + 50 * 5
    assert estimate(query, {"n": None, "skip": False}) == 1 + 50 * 5
    with_default = "query($n: Int = 3) { matches(first: $n) { edges { node { matchId } } } }"
    assert estimate(with_default) == 1 + 3 * 2
    assert estimate(with_default, {"n": 9}) == 1 + 9 * 2


def test_example_queries() -> None:
    assert estimate(readme_first_query()) == 132
    assert estimate(CARDS, {"first": 5000}) == 1 + 5000 * 4  # the bench's 5000 cards
    assert estimate(PAGE, {"f": 5000}) == PAGE_COST == 130_001


# --- the hook over HTTP ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cost")
    datasets.write_set(root, 5200)
    return root


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Root-field executions: the one entry graphql-core and the planner share (the planner
    runs inside it; with `planner=False` it is graphql-core's own root step)."""
    calls: list[str] = []
    original = PlannedExecutionContext.execute_root_fields

    def counting(self: PlannedExecutionContext, root_type: Any, *args: Any) -> Any:
        calls.append(root_type.name)
        return original(self, root_type, *args)

    monkeypatch.setattr(PlannedExecutionContext, "execute_root_fields", counting)
    return calls


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_readme_first_query_reports_its_cost(api: LiveServer) -> None:
    body = await api.graphql(readme_first_query())
    assert "errors" not in body
    assert body["extensions"]["cost"] == {"estimated": 132, "limit": 200_000}


@pytest.mark.parametrize("planner", [True, False])
async def test_over_the_limit_nothing_executes(
    serve: ServeFactory, page_dir: Path, executions: list[str], planner: bool
) -> None:
    api = serve(data_dir=page_dir, planner=planner, max_cost=100_000, response_cache_mb=0)
    refused = sample(
        "matchgraph_graphql_operations_over_cost_total", operation_type="query", action="refused"
    )
    anonymous = {"operation_type": "query", "operation_name": "anonymous"}
    costed = sample("matchgraph_graphql_operation_cost_count", **anonymous)
    body = await api.graphql(PAGE, {"f": 5000}, headers=DEBUG)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {
        "code": "COST_LIMIT_EXCEEDED",
        "cost": {"estimated": PAGE_COST, "limit": 100_000},
    }
    assert "path" not in error
    assert executions == []  # no executor touched it
    assert body["extensions"]["plan"] == {} and body["extensions"]["loaderBatches"] == {}
    assert body["extensions"]["cost"] == {"estimated": PAGE_COST, "limit": 100_000}
    # GraphQL over HTTP: a request error like a validation error (400 without `data`)
    async with api.client() as client:
        response = await client.post(
            "/graphql", json={"query": PAGE, "variables": {"f": 5000}}, headers=GRAPHQL_RESPONSE
        )
    assert response.status_code == 400 and "data" not in response.json()
    assert executions == []
    assert (
        sample(
            "matchgraph_graphql_operations_over_cost_total",
            operation_type="query",
            action="refused",
        )
        == refused + 2
    )
    assert sample("matchgraph_graphql_operation_cost_count", **anonymous) == costed + 2
    # under the limit, the same server executes (the counter does see executions)
    small = await api.graphql(PAGE, {"f": 100})
    assert len(small["data"]["matches"]["edges"]) == 100
    assert small["extensions"]["cost"] == {"estimated": 1 + 100 * 26, "limit": 100_000}
    assert executions == ["Query"]


async def test_measure_mode_executes_and_counts(
    serve: ServeFactory, page_dir: Path, executions: list[str]
) -> None:
    api = serve(data_dir=page_dir, max_cost=100_000, cost_mode="measure", response_cache_mb=0)
    measured = sample(
        "matchgraph_graphql_operations_over_cost_total", operation_type="query", action="measured"
    )
    body = await api.graphql(PAGE, {"f": 5000})
    assert "errors" not in body
    assert len(body["data"]["matches"]["edges"]) == 5000
    assert body["extensions"]["cost"] == {"estimated": PAGE_COST, "limit": 100_000}
    assert executions == ["Query"]
    assert (
        sample(
            "matchgraph_graphql_operations_over_cost_total",
            operation_type="query",
            action="measured",
        )
        == measured + 1
    )


async def test_a_dry_run_executes_nothing_and_never_meets_the_cache(
    serve: ServeFactory, page_dir: Path, executions: list[str]
) -> None:
    api = serve(data_dir=page_dir, max_cost=100_000)  # the response cache on
    query = {"query": PAGE, "variables": {"f": 300}}
    estimated = {"estimated": 1 + 300 * 26, "limit": 100_000}
    async with api.client() as client:
        # a dry run first: it must leave no entry a real request could be answered from
        dry = await client.post("/graphql", json=query, headers=DRY_RUN)
        assert dry.status_code == 200 and dry.json() == {"extensions": {"cost": estimated}}
        assert "x-matchgraph-cache" not in dry.headers
        assert executions == []
        real = await client.post("/graphql", json=query)
        assert real.headers["x-matchgraph-cache"] == "miss"
        assert len(real.json()["data"]["matches"]["edges"]) == 300
        assert real.json()["extensions"]["cost"] == estimated
        hit = await client.post("/graphql", json=query)
        assert hit.headers["x-matchgraph-cache"] == "hit"
        # a dry run after a real request: not answered from the real request's entry
        again = await client.post("/graphql", json=query, headers=DRY_RUN)
        assert again.json() == {"extensions": {"cost": estimated}}
        assert "x-matchgraph-cache" not in again.headers
        # over the limit, a dry run still answers the estimate (and executes nothing)
        over = await client.post(
            "/graphql", json={"query": PAGE, "variables": {"f": 5000}}, headers=DRY_RUN
        )
        assert over.json() == {"extensions": {"cost": {"estimated": PAGE_COST, "limit": 100_000}}}
        # GET works the same
        get = await client.get(
            "/graphql", params={"query": "{ regions { name } }"}, headers=DRY_RUN
        )
        assert get.json() == {"extensions": {"cost": {"estimated": 100, "limit": 100_000}}}
        # a mutation is priced, not run (no Redis here: running it would be an error)
        mutation = await client.post(
            "/graphql", json={"query": "mutation { predictMatch(matchId: 1) { id } }"},
            headers=DRY_RUN,
        )  # fmt: skip
        assert mutation.json() == {"extensions": {"cost": {"estimated": 100, "limit": 100_000}}}
        # a document that does not validate is answered as always
        invalid = await client.post("/graphql", json={"query": "{ nope }"}, headers=DRY_RUN)
        assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        # and variables that do not coerce: their errors, still nothing executed
        bad = await client.post(
            "/graphql",
            json={"query": "query($n: Int!) { matches(first: $n) { totalCount } }",
                  "variables": {"n": "many"}},
            headers=DRY_RUN,
        )  # fmt: skip
        assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert executions == ["Query"]  # the one real execution


async def test_mutations_are_priced_and_refused_before_running(
    serve: ServeFactory, page_dir: Path
) -> None:
    api = serve(data_dir=page_dir, max_cost=99)
    body = await api.graphql("mutation { predictMatch(matchId: 1, wait: true) { id } }")
    (error,) = body["errors"]
    # refused before the task queue is asked (no Redis runs here: that would be
    # SERVICE_UNAVAILABLE)
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] == {"estimated": 100, "limit": 99}
    features = await api.graphql("mutation { predictFeatures(features: [], women: false) { id } }")
    assert features["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    cheap = await api.graphql("{ match(matchId: 1) { matchId } }")
    assert cheap["extensions"]["cost"] == {"estimated": 1, "limit": 99}


async def _frames(url: str, query: str, count: int) -> list[dict[str, Any]]:
    """The first `count` frames after the ack of one graphql-transport-ws subscription."""
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        frames = []
        async with asyncio.timeout(30):
            while len(frames) < count:
                frame = json.loads(await ws.recv())
                if frame["type"] != "ping":
                    frames.append(frame)
        return frames


async def test_subscriptions_are_priced_and_refused_over_websocket(
    serve: ServeFactory, page_dir: Path
) -> None:
    api = serve(data_dir=page_dir, max_cost=99)
    before = sample(
        "matchgraph_graphql_operations_over_cost_total",
        operation_type="subscription",
        action="refused",
    )
    frames = await _frames(api.ws_url, "subscription { predictMatch(matchId: 1) { id } }", 2)
    assert [f["type"] for f in frames] == ["next", "complete"]
    (error,) = frames[0]["payload"]["errors"]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] == {"estimated": 100, "limit": 99}
    assert (
        sample(
            "matchgraph_graphql_operations_over_cost_total",
            operation_type="subscription",
            action="refused",
        )
        == before + 1
    )
    # under the limit: each result carries its estimate
    (first,) = await _frames(api.ws_url, "subscription { dataUpdated { dataVersion } }", 1)
    assert first["type"] == "next" and first["payload"]["data"]["dataUpdated"]["dataVersion"]
    assert first["payload"]["extensions"]["cost"] == {"estimated": 1, "limit": 99}


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().max_cost, Settings().cost_mode) == (200_000, "enforce")
    monkeypatch.setenv("MATCHGRAPH_MAX_COST", "5000")
    monkeypatch.setenv("MATCHGRAPH_COST_MODE", "measure")
    assert (Settings().max_cost, Settings().cost_mode) == (5000, "measure")
    monkeypatch.setenv("MATCHGRAPH_COST_MODE", "sometimes")
    with pytest.raises(ValueError, match=r"cost_mode|MATCHGRAPH_COST_MODE"):
        Settings()


async def test_an_unpriced_request_is_not_refused_by_accident(api: LiveServer) -> None:
    """Variables that do not coerce are reported by graphql-core as before (not priced)."""
    async with httpx.AsyncClient(base_url=api.url) as client:
        response = await client.post(
            "/graphql",
            json={"query": "query($n: Int!) { matches(first: $n) { totalCount } }",
                  "variables": {"n": "many"}},
        )  # fmt: skip
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cost" not in body.get("extensions", {})
