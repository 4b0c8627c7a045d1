"""The planner (graph/planner) in-process: bindings, fallbacks, the plan cache, the loop.

That planned answers equal graphql-core's is tests/test_planner_differential.py's
job; mixed operations (liveScore inside a planned page, one database query per
page) are tested over HTTP in tests/test_livescores_api.py.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import GraphQLObjectType
from strawberry.http import process_result

import graph.execution
from graph.adapters.strawberry import DEFINITION_KEY, graphql_core_schema
from graph.batching import Loaders
from graph.context import Context, build_context
from graph.lane import lane
from graph.planner import execution as planner_execution
from graph.planner import plan as planner_plan
from graph.planner.binding import Kind, planned_kind
from graph.planner.rows import ROW_SETS, RowSet
from graph.schema import build_schema
from graph.services import Services
from graph.settings import Settings
from graph.sources.snapshots import Sources
from tests import datasets, snapshot_data

ROW_SET_PLUMBING = {"take", "sources", "ids"}


@pytest.fixture
def no_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of 0 s: a plan run yields at every chunk boundary (CHUNK rows)."""
    monkeypatch.setattr(graph.execution, "SLICE_SECONDS", 0.0)
    monkeypatch.setattr(planner_execution, "SLICE_SECONDS", 0.0)
    monkeypatch.setattr(planner_execution, "FIRST_SLICE_SECONDS", 0.0)


@pytest.fixture(scope="module")
def schemas() -> dict[bool, Any]:
    return {planner: build_schema(Settings(planner=planner)) for planner in (True, False)}


@pytest.fixture
async def dirty_sources(tmp_path: Path) -> Sources:
    snapshot_data.write(tmp_path, dirty=True)
    sources, _ = await snapshot_data.load(tmp_path)
    return sources


@pytest.fixture
async def big_sources(tmp_path: Path) -> Sources:
    datasets.write_set(tmp_path, 3000)
    sources, _ = await snapshot_data.load(tmp_path)
    return sources


async def execute(
    schemas: dict[bool, Any],
    sources: Sources,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    planner: bool = True,
) -> tuple[dict[str, Any], Context]:
    settings = Settings(planner=planner)
    context = await build_context(settings, sources, new_loaders=Loaders, services=Services())
    result = await schemas[planner].execute(query, variable_values=variables, context_value=context)
    return orjson.loads(orjson.dumps(process_result(result))), context


def test_every_planned_field_has_its_row_set_method_and_every_method_a_planned_field() -> None:
    schema = graphql_core_schema(build_schema(Settings()))
    for type_name, rows in ROW_SETS.items():
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        marked = {}
        for field in graphql_type.fields.values():
            definition = (field.extensions or {}).get(DEFINITION_KEY)
            kind = planned_kind(getattr(definition, "metadata", None))
            if kind is not None:
                marked[definition.python_name] = kind
        methods = {
            name
            for name, member in inspect.getmembers(rows)
            if not name.startswith("_")
            and name not in ROW_SET_PLUMBING
            and (inspect.isfunction(member) or isinstance(member, property))
            and name not in vars(RowSet)
        }
        assert set(marked) == methods, type_name
    # the joins of the hub are declared as joins
    match_fields = schema.type_map["Match"].fields  # type: ignore[attr-defined]
    kinds = {
        name: planned_kind(match_fields[name].extensions[DEFINITION_KEY].metadata)
        for name in ("prediction", "odds", "value", "region", "features", "liveScore")
    }
    assert kinds == {
        "prediction": Kind.JOIN,
        "odds": Kind.JOIN,
        "value": Kind.JOIN,
        "region": Kind.JOIN,
        "features": Kind.JOIN_MANY,
        "liveScore": None,  # the database, not a snapshot: resolved by graphql-core
    }


@pytest.mark.parametrize(
    ("query", "plans"),
    [
        pytest.param(
            "{ matches(first: 2) { totalCount } health { status } }",
            {"matches": "planned", "health": "unplanned-field"},
            id="a-planned-and-an-unplanned-root-field",
        ),
        pytest.param(
            "{ match(matchId: 99) { matchId homeTeamName } }",
            {"match": "orphan"},
            id="an-orphan-prediction-is-built-by-graphql-core",
        ),
        pytest.param(
            "{ matches(first: -1) { totalCount } }", {"matches": "error"}, id="an-argument-error"
        ),
        pytest.param(
            '{ matches(region: "Dirtland") { edges { node { features { value } } } } }',
            {"matches": "data"},
            id="an-infinite-feature-graphql-core-refuses",
        ),
        pytest.param(
            '{ matches(region: "Dirtland") { edges { node { matchId } } } }',
            {"matches": "data"},
            id="an-id-beyond-32-bits",
        ),
        pytest.param(
            '{ matches(region: "Dirtland") { edges { node { homeTeamName } } } }',
            {"matches": "planned"},
            id="dirty-rows-whose-selected-columns-are-clean",
        ),
        pytest.param(
            "{ matches(minEdge: -0.1) { totalCount edges { node { matchId"
            " value { home draw away best bestEdge kelly } } } } }",
            {"matches": "planned"},
            id="value-and-min-edge-with-an-infinite-odd-left-out",
        ),
        pytest.param(
            "{ match(matchId: 99) { value { best bestEdge } } }",
            {"match": "orphan"},
            id="the-value-of-an-orphan-prediction",
        ),
    ],
)
async def test_what_the_planner_hands_back_and_why(
    schemas: dict[bool, Any], dirty_sources: Sources, query: str, plans: dict[str, str]
) -> None:
    planned, context = await execute(schemas, dirty_sources, query)
    reference, _ = await execute(schemas, dirty_sources, query, planner=False)
    assert context.loaders.plans == plans
    assert planned == reference


async def test_a_plan_is_compiled_once_per_text_and_include_switches(
    schemas: dict[bool, Any], dirty_sources: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []
    original = planner_plan.compile_field

    def counting(executor: Any, parent: Any, key: str, group: Any) -> Any:
        compiled.append(key)
        return original(executor, parent, key, group)

    monkeypatch.setattr(planner_execution, "compile_field", counting)
    query = """query Switch($with: Boolean!, $n: Int!) {
        cached: matches(first: $n) { totalCount edges @include(if: $with) { cursor } } }"""
    answers = []
    for switch, n in ((True, 1), (True, 2), (False, 1), (False, 3), (True, 3)):
        answer, context = await execute(schemas, dirty_sources, query, {"with": switch, "n": n})
        assert context.loaders.plans == {"cached": "planned"}
        answers.append(answer["data"]["cached"])
    assert compiled == ["cached", "cached"]  # one plan per value of the switch
    assert [len(a.get("edges", [])) for a in answers] == [1, 2, 0, 0, 3]
    assert ["edges" in a for a in answers] == [True, True, False, False, True]


@pytest.mark.usefixtures("no_slice")
async def test_a_big_planned_page_gives_the_loop_a_turn_every_slice(
    schemas: dict[bool, Any], big_sources: Sources
) -> None:
    ticks = 0
    running = True

    async def ticker() -> None:
        nonlocal ticks
        while running:
            ticks += 1
            await asyncio.sleep(0)

    query = "{ matches(first: 3000) { edges { node { matchId prediction { probaHome } } } } }"
    task = asyncio.create_task(ticker())
    answer, context = await execute(schemas, big_sources, query)
    running = False
    await task
    assert context.loaders.plans == {"matches": "planned"}
    assert len(answer["data"]["matches"]["edges"]) == 3000
    chunks = 3000 // 256
    assert ticks >= chunks  # the ticker ran between the chunks


@pytest.mark.usefixtures("no_slice")
async def test_a_stop_ends_a_planned_page_as_it_ends_graphql_core(
    schemas: dict[bool, Any], big_sources: Sources
) -> None:
    query = "{ matches(first: 3000) { edges { node { matchId } } } }"
    settings = Settings(planner=True)
    context = await build_context(settings, big_sources, new_loaders=Loaders, services=Services())
    running = asyncio.ensure_future(schemas[True].execute(query, context_value=context))
    await asyncio.sleep(0)  # the run has done its first slice and yielded
    context.stop.set("timeout")
    result = await running
    assert result.data is None  # `matches` is non-null: the error nulls the whole response
    assert result.errors is not None and len(result.errors) == 1
    assert result.errors[0].path == ["matches"]


async def test_the_lane_lets_other_work_in_after_one_slice_of_the_long_runs() -> None:
    log: list[str] = []
    turns = lane()

    async def long_run(name: str) -> None:
        for _ in range(4):
            await turns.turn()
            try:
                log.append(name)  # one slice
            finally:
                turns.release()

    runs = [asyncio.create_task(long_run(name)) for name in "ABCD"]
    for _ in range(3):
        await asyncio.sleep(0)  # the runs are under way
    started = len(log)

    async def small() -> None:
        log.append("small")

    await asyncio.gather(asyncio.create_task(small()), *runs)
    # Plain `sleep(0)` between slices would put all four runs ahead of it.
    assert log.index("small") - started <= 1
    slices = [entry for entry in log if entry != "small"]
    assert slices == list("ABCD") * 4  # the runs take turns, first come first served
    assert turns.free()
