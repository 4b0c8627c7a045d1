"""graph/batching.py in-process: DataLoader batches per operation, with the schema executed
over a small snapshot set (no server, no HTTP: a failure here is the graph's)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from graph.batching import Loaders
from graph.schema import build_schema
from graph.settings import Settings
from graph.sources.snapshots import SnapshotSet
from tests.snapshot_data import ORDER

PAGE = """query($first: Int!) { matches(first: $first) { edges { node {
  matchId prediction { probaHome } odds { home } features { name } region { roi { roi } }
} } } }"""


@pytest.fixture
async def data(small_data: SnapshotSet) -> SnapshotSet:
    return small_data


# graphql-core's execution, field by field through the loaders (the planner answers
# these operations from column gathers instead: tests/test_planner*.py).
SETTINGS = Settings(planner=False)
SCHEMA = build_schema(SETTINGS)


async def execute(
    data: SnapshotSet, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Counter[str]]:
    """Run one operation with fresh loaders; its data and the batches it used.

    The context holds what snapshot resolvers read (settings, pinned data, loaders).
    """
    loaders = Loaders(data, SETTINGS)
    context = SimpleNamespace(
        settings=SETTINGS, data=data, loaders=loaders, uncacheable=lambda: None
    )
    result = await SCHEMA.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data, loaders.batches


@pytest.mark.parametrize("first", [1, 2, len(ORDER)])
async def test_one_batch_per_field_kind_whatever_the_page_size(
    data: SnapshotSet, first: int
) -> None:
    found, batches = await execute(data, PAGE, {"first": first})
    assert len(found["matches"]["edges"]) == first
    assert batches == {"prediction": 1, "odds": 1, "features": 1, "roi": 1}


async def test_fields_nobody_asked_for_cost_nothing(data: SnapshotSet) -> None:
    _, batches = await execute(data, "{ matches { edges { node { matchId homeTeamName } } } }")
    assert batches == {}


async def test_sibling_root_fields_share_one_batch(data: SnapshotSet) -> None:
    query = """{ a: match(matchId: 10) { prediction { probaHome } }
                 b: match(matchId: 40) { prediction { probaHome } }
                 c: match(matchId: 30) { prediction { probaHome } } }"""
    found, batches = await execute(data, query)
    assert [found[k]["prediction"]["probaHome"] for k in "abc"] == [0.5, 0.3, 0.2]
    assert batches == {"match": 1, "prediction": 1}


async def test_orphans_fields_cost_one_more_batch_not_one_per_orphan(data: SnapshotSet) -> None:
    """An orphan belongs to no page: its fields go through the loaders' own batching."""
    query = """{ a: match(matchId: 10) { prediction { probaHome } }
                 b: match(matchId: 99) { prediction { probaHome } }
                 c: match(matchId: 98) { prediction { probaHome } } }"""
    found, batches = await execute(data, query)
    assert [found[k]["prediction"]["probaHome"] for k in "abc"] == [0.5, 0.6, 0.1]
    assert batches == {"match": 1, "prediction": 2}


async def test_keys_a_page_primed_cost_no_second_batch(data: SnapshotSet) -> None:
    query = """{ matches { edges { node { prediction { probaHome } } } }
                 match(matchId: 10) { prediction { probaHome } } }"""
    found, batches = await execute(data, query)
    assert found["match"]["prediction"]["probaHome"] == 0.5
    assert batches == {"prediction": 1, "match": 1}


async def test_orphan_missing_odds_and_nan_features_through_the_schema(
    data: SnapshotSet,
) -> None:
    query = """{ orphan: match(matchId: 99) { homeTeamName region { name }
                   prediction { predictedOutcome } odds { home } features { name } }
                 empty: match(matchId: 20) { prediction { probaHome } odds { home }
                   features { name } }
                 unknown: match(matchId: 12345) { matchId } }"""
    found, batches = await execute(data, query)
    assert found["orphan"] == {
        "homeTeamName": "Orphan FC",
        "region": None,
        "prediction": {"predictedOutcome": "HOME"},
        "odds": None,
        "features": [],
    }
    assert found["empty"] == {"prediction": None, "odds": None, "features": []}
    assert found["unknown"] is None
    # One batch for the matches; per field kind the page of 20, then the orphan.
    assert batches == {"match": 1, "prediction": 2, "odds": 2, "features": 2}


async def test_every_operation_counts_its_own_batches(data: SnapshotSet) -> None:
    _, first = await execute(data, PAGE, {"first": 2})
    _, second = await execute(data, PAGE, {"first": 2})
    assert first == second == {"prediction": 1, "odds": 1, "features": 1, "roi": 1}
