"""Every value the read path serves equals the pipeline's files (demo data set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.server import LiveServer

CARDS = """
query Cards($first: Int!, $after: String) {
  matches(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      matchId startTimeUtc homeTeamName awayTeamName tournamentName women isFuture
      homeScore awayScore outcome region { name }
      prediction { probaHome probaDraw probaAway predictedClass predictedOutcome
                   modelRunId modelStage computedAt }
      odds { home draw away fonbetEventId fonbetSportId fonbetUrl }
    } }
  }
}"""

OUTCOMES = ["HOME", "DRAW", "AWAY"]


@pytest.fixture(scope="module")
def files(demo_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        "features": pd.read_parquet(demo_dir / "predictions" / "match_features.parquet"),
        "predictions": pd.read_parquet(demo_dir / "predictions" / "predictions.parquet"),
        "odds": pd.read_parquet(demo_dir / "data-raw" / "fonbet_odds.parquet"),
        "roi": pd.read_csv(demo_dir / "predictions/analysis/live_betting/roi_by_region.csv"),
    }


async def _all_pages(api: LiveServer, first: int) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await api.data(CARDS, {"first": first, "after": after})
        page = data["matches"]
        nodes.extend(edge["node"] for edge in page["edges"])
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _nullable(value: Any) -> Any:
    return None if pd.isna(value) else value


async def test_paging_covers_the_catalog_exactly_once_in_order(
    api: LiveServer, files: dict[str, pd.DataFrame]
) -> None:
    features = files["features"]
    nodes = await _all_pages(api, first=700)
    ids = [n["matchId"] for n in nodes]
    expected = features.assign(t=features["startTimeUtc"]).sort_values(["t", "match_id"])
    assert ids == expected.index.tolist()
    assert len(set(ids)) == len(features)


async def test_match_fields_equal_the_features_file(
    api: LiveServer, files: dict[str, pd.DataFrame]
) -> None:
    features = files["features"]
    for node in await _all_pages(api, first=5000):
        row = features.loc[node["matchId"]]
        assert node["startTimeUtc"] == row["startTimeUtc"].isoformat()
        assert node["startTimeUtc"].endswith("+00:00")
        assert (node["homeTeamName"], node["awayTeamName"]) == (
            row["homeTeamName"],
            row["awayTeamName"],
        )
        assert node["tournamentName"] == _nullable(row["tournamentName"])
        assert node["region"] == ({"name": row["region"]} if _nullable(row["region"]) else None)
        assert node["women"] is (int(row["sex"]) == 1)
        assert node["isFuture"] is bool(row["is_future"])
        assert node["homeScore"] == _nullable(row["homeScore"])
        assert node["awayScore"] == _nullable(row["awayScore"])
        outcome = _nullable(row["outcome_1x2"])
        assert node["outcome"] == (None if outcome is None else OUTCOMES[int(outcome)])


async def test_predictions_and_odds_equal_their_files(
    api: LiveServer, files: dict[str, pd.DataFrame], demo_dir: Path
) -> None:
    predictions, odds = files["predictions"], files["odds"]
    written = pd.Timestamp(
        (demo_dir / "predictions" / "predictions.parquet").stat().st_mtime, unit="s"
    )
    with_prediction = with_odds = 0
    for node in await _all_pages(api, first=5000):
        match_id = node["matchId"]
        if match_id in predictions.index:
            with_prediction += 1
            _check_prediction(node["prediction"], predictions.loc[match_id], written)
        else:
            assert node["prediction"] is None
        if match_id in odds.index:
            with_odds += 1
            _check_odds(node["odds"], odds.loc[match_id], api)
        else:
            assert node["odds"] is None
    assert with_prediction > 0 and with_odds > 0


def _check_prediction(served: dict[str, Any], row: pd.Series, written: pd.Timestamp) -> None:
    assert served["probaHome"] == pytest.approx(row["proba_home"], abs=0)
    assert served["probaDraw"] == pytest.approx(row["proba_draw"], abs=0)
    assert served["probaAway"] == pytest.approx(row["proba_away"], abs=0)
    assert served["predictedClass"] == int(row["predicted_class"])
    assert served["predictedOutcome"] == OUTCOMES[int(row["predicted_class"])]
    assert served["modelRunId"] == row["model_run_id"]
    assert served["modelStage"] == row["model_stage"]
    served_at = pd.Timestamp(served["computedAt"]).tz_convert(None)
    assert abs((served_at - written).total_seconds()) < 1


def _check_odds(served: dict[str, Any], row: pd.Series, api: LiveServer) -> None:
    assert (served["home"], served["draw"], served["away"]) == (
        row["odd_home"],
        row["odd_draw"],
        row["odd_away"],
    )
    event, sport = _nullable(row["fonbet_event_id"]), _nullable(row["fonbet_sport_id"])
    assert served["fonbetEventId"] == event
    assert served["fonbetSportId"] == sport
    if event is None or sport is None:
        assert served["fonbetUrl"] is None
    else:
        template = api.settings.fonbet_url_template
        assert served["fonbetUrl"] == template.format(sport_id=int(sport), event_id=int(event))


async def test_features_equal_the_file_with_nan_dropped(
    api: LiveServer, files: dict[str, pd.DataFrame]
) -> None:
    features = files["features"]
    names = sorted(c for c in features.columns if c.startswith("diff_"))
    query = """query($f: Int!) {
      matches(first: $f) { edges { node { matchId features { name value } } } } }"""
    data = await api.data(query, {"f": 5000})
    saw_nan = False
    for edge in data["matches"]["edges"]:
        row = features.loc[edge["node"]["matchId"], names]
        expected = {name: float(value) for name, value in row.items() if not pd.isna(value)}
        saw_nan = saw_nan or len(expected) < len(names)
        assert {f["name"]: f["value"] for f in edge["node"]["features"]} == expected
    assert saw_nan, "the demo set should have matches without history (NaN features)"


async def test_feature_names_select_and_unknown_names_are_refused(
    api: LiveServer, files: dict[str, pd.DataFrame]
) -> None:
    match_id = int(files["features"].dropna().index[0])
    name = next(c for c in files["features"].columns if c.startswith("diff_"))
    query = (
        "query($id: Int!, $n: [String!]) { match(matchId: $id) { features(names: $n) { name } } }"
    )
    data = await api.data(query, {"id": match_id, "n": [name]})
    assert data["match"]["features"] == [{"name": name}]
    body = await api.graphql(query, {"id": match_id, "n": ["diff_nope_w5"]})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert name in error["extensions"]["validNames"]
    assert "sex" not in error["extensions"]["validNames"]


async def test_region_roi_equals_the_csv(api: LiveServer, files: dict[str, pd.DataFrame]) -> None:
    roi = files["roi"].set_index("region")
    data = await api.data("{ regions { id name roi { bets roi profit won } } }")
    served = {r["name"]: r["roi"] for r in data["regions"]}
    catalog_regions = set(files["features"]["region"].dropna())
    assert set(served) == catalog_regions | set(roi.index)
    for name, row in roi.iterrows():
        assert served[str(name)] == {
            "bets": int(row["n_bets"]),
            "roi": float(row["roi"]),
            "profit": _nullable(float(row["profit"])),
            "won": int(row["n_won"]),
        }
    assert all(served[n] is None for n in catalog_regions - set(roi.index))
