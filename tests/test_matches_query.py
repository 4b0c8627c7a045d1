"""`matches`, `match` and `node`: filters, orphans and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.server import LiveServer

IDS = """
query($first: Int, $futureOnly: Boolean, $region: String, $team: String,
      $from: DateTime, $to: DateTime) {
  matches(first: $first, futureOnly: $futureOnly, region: $region, team: $team,
          from: $from, to: $to) {
    totalCount edges { node { matchId } }
  }
}"""


@pytest.fixture(scope="module")
def features(demo_dir: Path) -> pd.DataFrame:
    frame = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    return frame.assign(t=frame["startTimeUtc"]).sort_values(["t", "match_id"])


async def _ids(api: LiveServer, **variables: Any) -> tuple[int, list[int]]:
    data = await api.data(IDS, {"first": 5000, **variables})
    page = data["matches"]
    return page["totalCount"], [e["node"]["matchId"] for e in page["edges"]]


def _expected(frame: pd.DataFrame) -> tuple[int, list[int]]:
    return len(frame), frame.index.tolist()[:5000]


async def test_future_only(api: LiveServer, features: pd.DataFrame) -> None:
    assert await _ids(api, futureOnly=True) == _expected(features[features["is_future"]])
    assert await _ids(api, futureOnly=False) == _expected(features)


async def test_region_is_case_insensitive(api: LiveServer, features: pd.DataFrame) -> None:
    region = features["region"].dropna().iloc[0]
    expected = _expected(features[features["region"] == region])
    assert await _ids(api, region=region.upper()) == expected
    assert await _ids(api, region="Atlantis") == (0, [])


async def test_team_matches_either_side_whole_name(api: LiveServer, features: pd.DataFrame) -> None:
    team = features["homeTeamName"].iloc[0]
    either = (features["homeTeamName"] == team) | (features["awayTeamName"] == team)
    assert await _ids(api, team=team.lower()) == _expected(features[either])
    assert await _ids(api, team=f"{team} Reserves XI") == (0, [])


async def test_from_inclusive_to_exclusive(api: LiveServer, features: pd.DataFrame) -> None:
    start = features["startTimeUtc"]
    low, high = start.iloc[len(start) // 4], start.iloc[len(start) // 2]
    window = features[(start >= low) & (start < high)]
    assert await _ids(api, **{"from": low.isoformat(), "to": high.isoformat()}) == _expected(window)


async def test_defaults_and_limits_of_first(api: LiveServer) -> None:
    data = await api.data("{ matches { edges { cursor } } }")
    assert len(data["matches"]["edges"]) == 50
    data = await api.data("{ matches(first: 0) { totalCount edges { cursor } } }")
    assert data["matches"]["edges"] == [] and data["matches"]["totalCount"] > 0


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ("first: 5001", "first"),
        ("first: -1", "first"),
        ('after: "not-a-cursor"', "cursor"),
        ('from: "2024-01-01T00:00:00"', "offset"),
        ('from: "yesterday"', "ISO-8601"),
        ('from: "2024-02-01T00:00:00+00:00", to: "2024-01-01T00:00:00+00:00"', "before"),
        ('first: "ten"', "Int"),
    ],
)
async def test_bad_arguments_are_bad_user_input(
    api: LiveServer, arguments: str, fragment: str
) -> None:
    body = await api.graphql(f"{{ matches({arguments}) {{ totalCount }} }}")
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert fragment in error["message"]


async def test_unknown_match_is_null(api: LiveServer) -> None:
    data = await api.data("{ match(matchId: 2147483000) { matchId } }")
    assert data == {"match": None}


async def test_orphans_are_reachable_but_never_listed(api: LiveServer, demo_dir: Path) -> None:
    predictions = pd.read_parquet(demo_dir / "predictions" / "predictions.parquet")
    catalog = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    orphans = predictions.index.difference(catalog.index)
    assert len(orphans) > 0, "the demo set carries orphan predictions"
    orphan = int(orphans[0])
    query = """query($id: Int!) { match(matchId: $id) {
        id matchId homeTeamName prediction { probaHome } features { name } } }"""
    match = (await api.data(query, {"id": orphan}))["match"]
    assert match["matchId"] == orphan
    assert match["homeTeamName"] == predictions.loc[orphan, "homeTeamName"]
    assert match["prediction"]["probaHome"] == predictions.loc[orphan, "proba_home"]
    assert match["features"] == []
    node = await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": match["id"]})
    assert node["node"]["id"] == match["id"]
    total, ids = await _ids(api)
    assert total == len(catalog) and orphan not in ids


async def test_node_round_trips_matches_and_regions(api: LiveServer) -> None:
    data = await api.data(
        "{ matches(first: 1) { edges { node { id matchId region { id name } } } } }"
    )
    node = data["matches"]["edges"][0]["node"]
    query = """query($m: ID!, $r: ID!) {
      m: node(id: $m) { id ... on Match { matchId } }
      r: node(id: $r) { id ... on Region { name } }
    }"""
    found = await api.data(query, {"m": node["id"], "r": node["region"]["id"]})
    assert found["m"] == {"id": node["id"], "matchId": node["matchId"]}
    assert found["r"] == node["region"]
    body = await api.graphql('{ node(id: "%%%") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_region_matches_connection(api: LiveServer, features: pd.DataFrame) -> None:
    region = features["region"].dropna().iloc[0]
    query = """query($id: ID!) { node(id: $id) { ... on Region {
        matches(first: 3) { totalCount edges { node { matchId region { name } } } } } } }"""
    regions = await api.data("{ regions { id name } }")
    region_id = next(r["id"] for r in regions["regions"] if r["name"] == region)
    page = (await api.data(query, {"id": region_id}))["node"]["matches"]
    in_region = features[features["region"] == region]
    assert page["totalCount"] == len(in_region)
    assert [e["node"]["matchId"] for e in page["edges"]] == in_region.index[:3].tolist()
