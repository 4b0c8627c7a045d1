"""MatchCatalog: (start, id) order, filters and keyset paging over a hand-made table."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest

from graph.sources.catalog import MatchCatalog, MatchFilter, Page

T0 = pd.Timestamp("2026-03-01T12:00:00Z")


def match(
    match_id: int,
    hours: float | None,
    home: str,
    away: str,
    *,
    region: str | None = None,
    women: bool = False,
    future: bool = False,
) -> dict[str, Any]:
    """One catalogue row starting `hours` after T0 (None: start unknown)."""
    return {
        "match_id": match_id,
        "startTimeUtc": pd.NaT if hours is None else T0 + pd.Timedelta(hours=hours),
        "homeTeamName": home,
        "awayTeamName": away,
        "region": region,
        "sex": int(women),
        "is_future": future,
    }


def catalog(*rows: dict[str, Any]) -> MatchCatalog:
    return MatchCatalog(pd.DataFrame(rows).set_index("match_id"))


ROWS = (
    match(40, 0, "Lyon", "Arsenal", region="england", future=True),
    match(10, 0, "Arsenal", "Chelsea", region="England"),
    match(50, None, "Porto", "Benfica", future=True),
    match(30, 0, "Arsenal Women", "Chelsea Women", region="ENGLAND", women=True, future=True),
    match(20, -24, "Real Madrid", "Barcelona", region="Spain"),
    match(60, 48, "Benfica", "Arsenal", region="Portugal", future=True),
)
ORDER = [20, 10, 30, 40, 60, 50]  # by start, equal starts by id, unknown start last


def at(seconds: float = 0) -> datetime:
    """T0 plus `seconds`, as the aware datetime a GraphQL argument arrives as."""
    result: datetime = (T0 + pd.Timedelta(seconds=seconds)).to_pydatetime()
    return result


def ids(table: MatchCatalog, page: Page) -> list[int]:
    return [int(i) for i in table.ids[page.positions]]


def matching(where: MatchFilter) -> list[int]:
    table = catalog(*ROWS)
    return ids(table, table.page(where, first=len(ROWS), after=None))


def walk(table: MatchCatalog, where: MatchFilter, size: int) -> list[Page]:
    """Every page of `size`, following end cursors until has_next is false."""
    pages = [table.page(where, first=size, after=None)]
    while pages[-1].has_next and len(pages) <= len(table):
        cursor = table.cursor_key(int(pages[-1].positions[-1]))
        pages.append(table.page(where, first=size, after=cursor))
    return pages


def test_rows_are_ordered_by_start_then_id_with_unknown_start_last() -> None:
    assert matching(MatchFilter()) == ORDER


def test_future_only() -> None:
    assert matching(MatchFilter(future_only=True)) == [30, 40, 60, 50]


@pytest.mark.parametrize(
    ("region", "expected"),
    [("england", [10, 30, 40]), ("ENGLAND", [10, 30, 40]), ("spain", [20]), ("Nowhere", [])],
)
def test_region_is_case_insensitive(region: str, expected: list[int]) -> None:
    assert matching(MatchFilter(region=region)) == expected


@pytest.mark.parametrize(
    ("team", "expected"),
    [
        ("arsenal", [10, 40, 60]),
        ("ARSENAL WOMEN", [30]),
        ("benfica", [60, 50]),
        ("Arsen", []),
    ],
)
def test_team_matches_either_side_by_whole_name(team: str, expected: list[int]) -> None:
    assert matching(MatchFilter(team=team)) == expected


def test_from_is_inclusive_and_excludes_unknown_start() -> None:
    assert matching(MatchFilter(start_from=at())) == [10, 30, 40, 60]
    assert matching(MatchFilter(start_from=at(1))) == [60]


def test_to_is_exclusive_and_excludes_unknown_start() -> None:
    assert matching(MatchFilter(start_to=at())) == [20]
    assert matching(MatchFilter(start_to=at(1))) == [20, 10, 30, 40]


def test_bounds_with_another_offset_mean_the_same_instant() -> None:
    t0_in_paris = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert matching(MatchFilter(start_from=t0_in_paris)) == [10, 30, 40, 60]


def test_filters_combine() -> None:
    assert matching(MatchFilter(future_only=True, team="Arsenal")) == [40, 60]


def test_display_columns_hold_plain_values() -> None:
    table = catalog(*ROWS)
    taken = table.take([30, 10, 50], ["women", "region", "start_iso"]).columns
    assert taken["women"] == [True, False, False]
    assert taken["region"] == ["ENGLAND", "England", None]
    assert taken["start_iso"] == ["2026-03-01T12:00:00+00:00", "2026-03-01T12:00:00+00:00", None]


FILTERS = {"all": MatchFilter(), "future": MatchFilter(future_only=True)}


@pytest.mark.parametrize("size", range(1, len(ROWS) + 1))
@pytest.mark.parametrize("name", FILTERS)
def test_paging_covers_every_row_once_in_order(name: str, size: int) -> None:
    table, where = catalog(*ROWS), FILTERS[name]
    expected = matching(where)
    pages = walk(table, where, size)
    assert [i for page in pages for i in ids(table, page)] == expected
    assert len(pages) == math.ceil(len(expected) / size)
    assert all(page.total_count == len(expected) for page in pages)
    assert [page.has_previous for page in pages] == [False] + [True] * (len(pages) - 1)
    assert [page.has_next for page in pages] == [True] * (len(pages) - 1) + [False]


def test_page_after_the_last_row_is_empty() -> None:
    table = catalog(*ROWS)
    page = table.page(MatchFilter(), first=3, after=table.cursor_key(len(ROWS) - 1))
    assert (ids(table, page), page.has_next, page.has_previous) == ([], False, True)


def test_cursor_from_before_a_refresh_works_on_the_new_catalog() -> None:
    old = catalog(*ROWS)
    first = old.page(MatchFilter(), first=3, after=None)
    assert ids(old, first) == [20, 10, 30]
    cursor = old.cursor_key(int(first.positions[-1]))
    inserted = (
        match(5, -48, "Early", "Inserted"),
        match(25, 0, "Same", "Start Lower Id"),
        match(35, 0, "Same", "Start Higher Id"),
        match(70, 1, "Later", "Inserted"),
    )
    new = catalog(*[r for r in ROWS if r["match_id"] != 30], *inserted)
    page = new.page(MatchFilter(), first=10, after=cursor)
    assert ids(new, page) == [35, 40, 70, 60, 50]
    assert (page.total_count, page.has_previous, page.has_next) == (9, True, False)
