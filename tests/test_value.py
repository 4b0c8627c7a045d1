"""`Match.value` and `matches(minEdge:)`: against plain pandas, and planned = graphql-core."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from graph.analytics.cache import TABLES
from graph.analytics.table import match_table, values_at
from graph.sources.snapshots import Sources
from tests import datasets, snapshot_data
from tests.analytics_support import both, data, reference_values, run
from tests.fixtures.server import ServeFactory

VALUE = "value { home draw away best bestEdge kelly }"
PAGE = """query Page($first: Int!, $after: String, $minEdge: Float, $region: String,
                   $futureOnly: Boolean) {
  matches(first: $first, after: $after, minEdge: $minEdge, region: $region,
          futureOnly: $futureOnly) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { matchId VALUE } }
  }
}""".replace("VALUE", VALUE)


async def _all_pages(sources: Sources, size: int, **variables: Any) -> tuple[list[dict], int]:
    nodes: list[dict] = []
    after, totals = None, set()
    while True:
        answer = await both(sources, PAGE, {"first": size, "after": after, **variables})
        page = data(answer)["matches"]
        assert answer["plans"] == {"matches": "planned"}
        totals.add(page["totalCount"])
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(totals) == 1  # the same total on every page
    return nodes, totals.pop()


def _expected(rows: pd.DataFrame) -> dict[int, dict[str, Any]]:
    return {
        int(match_id): {
            "home": row.edge_home,
            "draw": row.edge_draw,
            "away": row.edge_away,
            "best": row.best,
            "bestEdge": row.best_edge,
            "kelly": row.kelly,
        }
        for match_id, row in rows.iterrows()
    }


async def test_every_value_of_the_demo_equals_pandas(
    demo_sources: Sources, demo_table: pd.DataFrame
) -> None:
    nodes, total = await _all_pages(demo_sources, 5000)
    assert total == len(demo_table)
    expected = _expected(reference_values(demo_table))
    got = {n["matchId"]: n["value"] for n in nodes if n["value"] is not None}
    assert set(got) == set(expected)
    assert len(got) > 1000  # most matches have odds
    for match_id, value in got.items():
        want = expected[match_id]
        assert value["best"] == want["best"], match_id
        for key in ("home", "draw", "away", "bestEdge", "kelly"):
            assert value[key] == pytest.approx(want[key], rel=1e-12, abs=1e-15), (match_id, key)
    assert all(n["value"] is None for n in nodes if n["matchId"] not in expected)


@pytest.mark.parametrize(
    ("min_edge", "filters"),
    [
        (0.0, {}),
        (0.1, {}),
        (-0.05, {"region": "england"}),
        (0.02, {"futureOnly": True}),
        (5.0, {}),  # none
    ],
)
async def test_min_edge_pages_exactly_what_pandas_selects(
    demo_sources: Sources, demo_table: pd.DataFrame, min_edge: float, filters: dict[str, Any]
) -> None:
    rows = reference_values(demo_table)
    rows = rows[rows["best_edge"] >= min_edge]
    if "region" in filters:
        rows = rows[rows["region"].str.casefold() == filters["region"]]
    if filters.get("futureOnly"):
        rows = rows[rows["is_future"]]
    nodes, total = await _all_pages(demo_sources, 97, minEdge=min_edge, **filters)
    assert total == len(rows)
    assert [n["matchId"] for n in nodes] == rows.index.tolist()  # start time, then id
    assert all(n["value"]["bestEdge"] >= min_edge for n in nodes)


async def test_value_through_match_node_and_region_pages_is_the_same(
    demo_sources: Sources, demo_table: pd.DataFrame
) -> None:
    rows = reference_values(demo_table)
    match_id = int(rows.index[len(rows) // 2])
    region = str(rows.loc[match_id, "region"])
    query = f"""{{
      match(matchId: {match_id}) {{ {VALUE} }}
      node(id: "{_global_id(match_id)}") {{ ... on Match {{ {VALUE} }} }}
      regions {{ name matches(first: 3) {{ edges {{ node {{ matchId {VALUE} }} }} }} }}
    }}"""
    answer = await both(demo_sources, query)
    got = data(answer)
    assert answer["plans"] == {"match": "planned", "node": "planned", "regions": "planned"}
    assert got["match"]["value"] == got["node"]["value"]
    assert got["match"]["value"]["bestEdge"] == pytest.approx(rows.loc[match_id, "best_edge"])
    assert region in {r["name"] for r in got["regions"]}


def _global_id(match_id: int) -> str:
    from graph.relay import encode_global_id

    return encode_global_id("Match", str(match_id))


# --- the small hand-made set ----------------------------------------------------------------


@pytest.fixture
async def small_sources(tmp_path: Path) -> Sources:
    snapshot_data.write(tmp_path, edge_cases=True)
    sources, _ = await snapshot_data.load(tmp_path)
    return sources


async def test_value_needs_a_prediction_and_three_odds_above_one(small_sources: Sources) -> None:
    query = "{ matches(first: 50) { edges { node { matchId VALUE } } } }".replace("VALUE", VALUE)
    answer = await both(small_sources, query)
    values = {e["node"]["matchId"]: e["node"]["value"] for e in data(answer)["matches"]["edges"]}
    # 30 and 10 have both; 40 has no draw price, 50 only a home price, 60 no price, 15 no odds,
    # 20 no prediction (its row has no class), 70 no odds.
    assert {k for k, v in values.items() if v is not None} == {10, 30}
    assert values[30] == {
        "home": 0.2 * 2.5 - 1,
        "draw": 0.3 * 3.0 - 1,
        "away": 0.5 * 2.8 - 1,
        "best": "AWAY",
        "bestEdge": 0.5 * 2.8 - 1,
        "kelly": (0.5 * 2.8 - 1) / (2.8 - 1),
    }
    assert values[10]["best"] == "DRAW" and values[10]["kelly"] == 0.0  # no positive edge


async def test_an_orphan_prediction_with_odds_has_a_value(small_sources: Sources) -> None:
    answer = await both(small_sources, "{ match(matchId: 99) { value { best bestEdge } } }")
    assert answer["plans"] == {"match": "orphan"}
    assert data(answer)["match"]["value"] == {"best": "HOME", "bestEdge": 0.6 * 2.0 - 1}


@pytest.mark.parametrize(
    ("proba", "odds", "best"),
    [
        ((0.4, 0.2, 0.4), (2.5, 5.0, 2.5), "HOME"),  # all three tie
        ((0.2, 0.4, 0.4), (2.0, 2.5, 2.5), "DRAW"),  # draw and away tie
        ((0.2, 0.3, 0.5), (2.0, 2.0, 2.0), "AWAY"),
    ],
)
async def test_ties_go_home_then_draw_then_away(
    tmp_path: Path, proba: tuple[float, ...], odds: tuple[float, ...], best: str
) -> None:
    catalog = datasets.catalog(3)
    datasets.write(tmp_path, datasets.FEATURES, catalog)
    predictions = datasets.predictions(catalog.index, run_id="r")
    predictions[["proba_home", "proba_draw", "proba_away"]] = proba
    datasets.write(tmp_path, datasets.PREDICTIONS, predictions)
    prices = pd.DataFrame(
        np.tile(odds, (3, 1)), index=catalog.index, columns=["odd_home", "odd_draw", "odd_away"]
    )
    prices.loc[3, "odd_away"] = 1.0  # an odd of 1 is no price: no value, never passes minEdge
    datasets.write(tmp_path, datasets.ODDS, prices)
    sources, _ = await snapshot_data.load(tmp_path)
    query = "{ matches(minEdge: -1) { totalCount edges { node { matchId value { best } } } } }"
    page = data(await both(sources, query))["matches"]
    assert page["totalCount"] == 2
    assert [e["node"] for e in page["edges"]] == [
        {"matchId": 1, "value": {"best": best}},
        {"matchId": 2, "value": {"best": best}},
    ]


async def test_min_edge_must_be_finite(small_sources: Sources) -> None:
    answer = await run(
        small_sources,
        "query($e: Float) { matches(minEdge: $e) { totalCount } }",
        {"e": float("inf")},
    )
    assert answer["data"] is None
    assert answer["errors"]


async def test_a_page_computes_its_values_alone_exactly_as_the_whole_table(
    demo_sources: Sources,
) -> None:
    """Before the data version's table is built, a page computes its own rows' values."""
    snapshot = await demo_sources.current()
    positions = np.arange(0, len(snapshot.catalog), 7)
    TABLES.clear()
    alone = values_at(snapshot, positions)
    assert TABLES.peek(("match-table", snapshot.version)) is None
    match_table(snapshot)
    from_table = values_at(snapshot, positions)
    for name in ("ok", "edges", "best", "best_edge", "kelly"):
        np.testing.assert_array_equal(getattr(alone, name), getattr(from_table, name))
    assert alone.ok.sum() > 100


async def test_the_api_joins_the_table_of_every_new_snapshot_set_in_the_background(
    serve: ServeFactory, tmp_path: Path
) -> None:
    frame = datasets.write_set(tmp_path, 200)
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    sources: Sources = api.app.state.sources

    async def joined() -> str:
        """The version in service once its table is built, with no request asking for it."""
        for _ in range(200):
            version = sources.version
            if version is not None and TABLES.peek(("match-table", version)) is not None:
                return version
            await asyncio.sleep(0.05)
        raise AssertionError("the analytics table was never joined in the background")

    first = await joined()
    datasets.write(tmp_path, datasets.PREDICTIONS, datasets.predictions(frame.index, run_id="b"))
    for _ in range(200):
        if sources.version != first:
            break
        await asyncio.sleep(0.05)
    assert await joined() != first
