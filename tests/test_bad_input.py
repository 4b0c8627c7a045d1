"""Bad input gets an answer or BAD_USER_INPUT, never INTERNAL, and never costs much.

Dates pandas cannot hold, huge `features(names:)` lists, documents whose
validation was quadratic (repeated fields) or exponential (fragments spreading
fragments), and errors raised outside any resolver.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from graphql import OverlappingFieldsCanBeMergedRule, parse, specified_rules, validate

import graph.matches
import graph.validation
from graph.adapters.strawberry import graphql_core_schema
from graph.schema import build_schema
from graph.settings import Settings
from tests.fixtures.server import LiveServer, ServeFactory

COUNT = "query($from: DateTime, $to: DateTime) { matches(from: $from, to: $to) { totalCount } }"


@pytest.fixture(scope="module")
def dated(demo_dir: Path) -> int:
    """Catalogue matches with a start time: what a window around all time holds."""
    frame = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    return int(frame["startTimeUtc"].notna().sum())


def _only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") is None, body
    (error,) = body["errors"]
    return error  # type: ignore[no-any-return]


def _code(body: dict[str, Any]) -> str:
    return str(_only_error(body)["extensions"]["code"])


# --- dates beyond pandas' 1677-09-21..2262-04-11 --------------------------------------------


@pytest.mark.parametrize(
    ("window", "everything"),
    [
        ({"to": "1264-02-20T17:31:36Z"}, False),  # before every match: an empty page
        ({"from": "9999-12-31T23:59:59Z"}, False),  # after every match: empty too
        ({"to": "1677-09-21T00:12:43Z"}, False),  # just below pandas' lower bound
        ({"from": "2262-04-11T23:47:17Z"}, False),  # just above its upper bound
        ({"from": "1264-02-20T17:31:36Z", "to": "1300-01-01T00:00:00Z"}, False),
        ({"from": "0001-01-01T00:00:00+05:00"}, True),  # before year 1 in UTC
        ({"to": "9999-12-31T23:59:59-05:00"}, True),  # after year 9999 in UTC
        ({"from": "1677-09-21T00:12:43Z", "to": "2262-04-11T23:47:17Z"}, True),
    ],
)
async def test_dates_beyond_what_pandas_holds_are_answered(
    api: LiveServer, dated: int, window: dict[str, str], everything: bool
) -> None:
    data = await api.data(COUNT, window)
    assert data["matches"]["totalCount"] == (dated if everything else 0)
    inline = ", ".join(f'{k}: "{v}"' for k, v in window.items())
    data = await api.data(f"{{ matches({inline}, first: 3) {{ edges {{ cursor }} }} }}")
    assert len(data["matches"]["edges"]) == (3 if everything else 0)


# --- node ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["Match:²", "Match:٣", "Match:" + "9" * 5000, "Match:-", "Match: 1"],
    ids=["superscript", "arabic-indic", "5000 digits", "sign only", "space"],
)
async def test_match_node_ids_take_ascii_digits_only(api: LiveServer, key: str) -> None:
    # '²'.isdigit() is true and int('²') fails; 5000 digits are past int()'s own limit.
    node_id = base64.urlsafe_b64encode(key.encode()).decode()
    body = await api.graphql("query($id: ID!) { node(id: $id) { id } }", {"id": node_id})
    assert body["data"] == {"node": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "malformed node id" in error["message"] and len(error["message"]) < 200


async def test_unknown_match_node_ids_are_null(api: LiveServer) -> None:
    for key in ("Match:-5", "Match:99999999999999999999999"):
        node_id = base64.urlsafe_b64encode(key.encode()).decode()
        data = await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": node_id})
        assert data == {"node": None}


# --- features(names:) -------------------------------------------------------------------------

FEATURES = """query($names: [String!], $first: Int) { matches(first: $first) { edges { node {
  features(names: $names) { name value } } } } }"""


async def test_feature_names_are_checked_once_per_operation(
    api: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []
    check = graph.matches.check_feature_names

    def counting(info: Any, names: Any) -> Any:
        calls.append(tuple(names))
        return check(info, names)

    monkeypatch.setattr(graph.matches, "check_feature_names", counting)
    a, b = "diff_goals_scored_w5", "diff_points_w5"
    names = [a, b, a] * 300  # 900 names, 2 distinct
    body = await api.data(FEATURES, {"names": names, "first": 1000})
    edges = body["matches"]["edges"]
    assert len(edges) == 1000 and len(calls) == 1
    assert all({f["name"] for f in e["node"]["features"]} <= {a, b} for e in edges)
    assert any(len(e["node"]["features"]) == 2 for e in edges)


async def test_too_many_feature_names_is_bad_user_input(api: LiveServer) -> None:
    limit = api.settings.max_feature_names
    for count in (limit + 1, 40_000):
        names = ["diff_goals_scored_w5"] * count
        started = time.perf_counter()
        body = await api.graphql(FEATURES, {"names": names, "first": 1000})
        assert time.perf_counter() - started < 10
        error = _only_error(body)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"at most {limit}" in error["message"]


async def test_unknown_feature_names_are_listed_briefly(api: LiveServer) -> None:
    names = [f"no_such_feature_{i:03d}" for i in range(50)]
    error = _only_error(await api.graphql(FEATURES, {"names": names, "first": 5}))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "no_such_feature_000" in error["message"] and "and 40 more" in error["message"]
    assert "no_such_feature_049" not in error["message"]
    assert "diff_goals_scored_w5" in error["extensions"]["validNames"]


# --- validation that used to grow quadratically or exponentially -----------------------------


def _repeated(field: str, times: int) -> str:
    return "{ " + " ".join(field for _ in range(times)) + " }"


@pytest.mark.parametrize(
    "query",
    [
        _repeated("matches(first: 1) { totalCount }", 150),  # was validated and executed
        _repeated("matches(first: 1) { totalCount }", 540),  # was "Validation aborted."
        _repeated("__typename", 4900),
    ],
    ids=["150 fields", "540 fields", "4900 leaves"],
)
async def test_repeated_fields_are_bad_user_input(api: LiveServer, query: str) -> None:
    error = _only_error(await api.graphql(query))
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "share a response name" in error["message"]


async def test_a_few_repeated_fields_still_merge(api: LiveServer) -> None:
    query = """{ ...A ...B matches(first: 2) { totalCount }
      matches(first: 2) { totalCount edges { node { matchId } } } }
      fragment A on Query { matches(first: 2) { totalCount } }
      fragment B on Query { matches(first: 2) { edges { node { matchId homeTeamName } } } }"""
    data = await api.data(query)
    assert len(data["matches"]["edges"]) == 2 and data["matches"]["totalCount"] > 0


def test_field_merging_stops_at_its_budget() -> None:
    """Where graphql-core compares all 44,850 pairs, the bounded rule stops at its budget."""
    settings = Settings()
    schema = graphql_core_schema(build_schema(settings))
    bounded = graph.validation.bounded_field_merging(settings.max_field_merge_cost)
    document = parse(_repeated("matches(first: 1) { totalCount }", 300))
    found = {
        name: [e.message for e in validate(schema, document, [rule])]
        for name, rule in (("spec", OverlappingFieldsCanBeMergedRule), ("bounded", bounded))
    }
    assert found["spec"] == []  # within graphql-core's own budget: every pair compared
    assert len(found["bounded"]) == 1 and "share a response name" in found["bounded"][0]


def _fan_out(spreads: int, levels: int) -> str:
    """Each fragment spreads the next one `spreads` times: spreads**levels paths."""
    parts = ["query { ...F0 }"]
    for i in range(levels):
        body = " ".join(f"...F{i + 1}" for _ in range(spreads)) if i < levels - 1 else "__typename"
        parts.append(f"fragment F{i} on Query {{ {body} }}")
    return "\n".join(parts)


async def test_fragments_spreading_fragments_validate_in_linear_time(api: LiveServer) -> None:
    # 3**15 paths: Strawberry's depth and alias limiters walked each (minutes).
    started = time.perf_counter()
    data = await api.data(_fan_out(3, 16))
    assert data == {"__typename": "Query"}
    assert time.perf_counter() - started < 5


async def test_a_long_fragment_chain_is_a_coded_error(api: LiveServer) -> None:
    chain = ["query { ...F0 }"]
    chain += [f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(600)]
    chain.append("fragment F600 on Query { __typename }")
    body = await api.graphql("\n".join(chain))
    assert body["data"] is None
    assert all(e["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" for e in body["errors"])


@pytest.fixture(scope="module")
def strict(serve: ServeFactory, demo_dir: Path) -> LiveServer:
    return serve(data_dir=demo_dir, max_depth=3, max_aliases=3)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (  # depth 4 through two fragments
            """query Deep { ...A } fragment A on Query { matches { ...B } }
               fragment B on MatchConnection { edges { node { region { name } } } }""",
            "'Deep' exceeds maximum operation depth of 3",
        ),
        (  # 2 aliases, spread twice: 4 in the response
            "{ ...F ...G } fragment F on Query { a: __typename b: __typename } "
            "fragment G on Query { ...F }",
            "4 aliases found. Allowed: 3",
        ),
    ],
)
async def test_limits_see_through_fragments(strict: LiveServer, query: str, fragment: str) -> None:
    error = _only_error(await strict.graphql(query))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert fragment in error["message"]


async def test_introspection_does_not_count_towards_depth(strict: LiveServer) -> None:
    data = await strict.data("{ __schema { types { fields { type { ofType { name } } } } } }")
    assert data["__schema"]["types"]


# --- errors raised outside any resolver --------------------------------------------------------


async def test_an_exception_escaping_validation_is_internal_and_masked(
    api: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("secret detail")

    broken_init: Callable[..., None] = broken
    monkeypatch.setattr(graph.validation.DocumentShape, "__init__", broken_init)
    body = await api.graphql("{ __typename escaping: __typename }")  # not in the cache
    error = _only_error(body)
    assert error["extensions"]["code"] == "INTERNAL"
    assert error["message"] == "Internal error."


def test_every_spec_rule_is_still_applied() -> None:
    """The bounded rules replace OverlappingFieldsCanBeMerged and add the limits; the
    rest of the specification's rules run as before."""
    replaced = graph.validation.swap_rules(
        specified_rules,
        {OverlappingFieldsCanBeMergedRule: graph.validation.bounded_field_merging(100)},
        (),
    )
    assert len(replaced) == len(specified_rules)
    assert OverlappingFieldsCanBeMergedRule not in replaced
    assert all(issubclass(r, s) for r, s in zip(replaced, specified_rules, strict=True))
