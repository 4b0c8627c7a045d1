"""graph/paging.py in-process: `matches` connections over a pinned snapshot set.

The catalogue's own filters and binary search are tested in test_catalog.py; here
the connection around them: argument checks, cursors, PageInfo and totalCount.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pandas as pd
import pytest

from graph.errors import Code, GraphError
from graph.matches import MatchConnection
from graph.paging import DEFAULT_FIRST, MatchQuery, match_connection
from graph.relay import encode_cursor
from graph.settings import Settings
from graph.sources.snapshots import SnapshotSet
from tests import datasets, snapshot_data
from tests.snapshot_data import ORDER, T0


def info(data: SnapshotSet, **settings: Any) -> Any:
    """What match_connection reads of a resolver's Info: the settings and the pinned set."""
    return cast(
        Any, SimpleNamespace(context=SimpleNamespace(settings=Settings(**settings), data=data))
    )


def connection(data: SnapshotSet, **query: Any) -> MatchConnection:
    return match_connection(info(data), MatchQuery(**query))


def ids(page: MatchConnection) -> list[int]:
    return [edge.node.match_id for edge in page.edges]


def walk(data: SnapshotSet, size: int, **query: Any) -> list[MatchConnection]:
    pages = [connection(data, first=size, **query)]
    while pages[-1].page_info.has_next_page:
        assert len(pages) <= len(ORDER)
        pages.append(connection(data, first=size, after=pages[-1].page_info.end_cursor, **query))
    return pages


@pytest.fixture
async def data(tmp_path: Path) -> SnapshotSet:
    snapshot_data.write(tmp_path)
    _, snapshot_set = await snapshot_data.load(tmp_path)
    return snapshot_set


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_pages_cover_every_match_once_ties_broken_by_id(data: SnapshotSet, size: int) -> None:
    pages = walk(data, size)
    assert [i for page in pages for i in ids(page)] == ORDER
    assert all(page.total_count == len(ORDER) for page in pages)
    assert [p.page_info.has_previous_page for p in pages] == [False] + [True] * (len(pages) - 1)
    for page in pages:
        edges = page.edges
        assert page.page_info.start_cursor == edges[0].cursor
        assert page.page_info.end_cursor == edges[-1].cursor


def test_a_cursor_between_tied_matches_resumes_at_the_next_id(data: SnapshotSet) -> None:
    # 10, 15 and 20 all start at T0: after (T0, 15) comes 20, then 40.
    page = connection(data, first=10, after=encode_cursor(T0.value, 15))
    assert ids(page) == [20, 40]
    assert page.page_info.has_previous_page
    # A cursor of a match that no longer exists still places the page: (T0, 12) is
    # after 10 and before 15.
    assert ids(connection(data, first=10, after=encode_cursor(T0.value, 12))) == [15, 20, 40]


def test_first_page_at_the_start(data: SnapshotSet) -> None:
    page = connection(data, first=2)
    assert ids(page) == ORDER[:2]
    assert (page.page_info.has_previous_page, page.page_info.has_next_page) == (False, True)


def test_the_page_that_ends_exactly_at_the_last_match(data: SnapshotSet) -> None:
    first = connection(data, first=len(ORDER) - 2)
    last = connection(data, first=2, after=first.page_info.end_cursor)
    assert ids(last) == ORDER[-2:]
    assert (last.page_info.has_previous_page, last.page_info.has_next_page) == (True, False)


def test_after_the_last_match_is_an_empty_page(data: SnapshotSet) -> None:
    everything = connection(data, first=len(ORDER))
    assert not everything.page_info.has_next_page
    beyond = connection(data, first=3, after=everything.page_info.end_cursor)
    assert beyond.edges == []
    assert beyond.total_count == len(ORDER)
    info_ = beyond.page_info
    assert (info_.has_previous_page, info_.has_next_page) == (True, False)
    assert (info_.start_cursor, info_.end_cursor) == (None, None)


def test_first_zero_is_an_empty_page_that_says_more_follows(data: SnapshotSet) -> None:
    page = connection(data, first=0)
    assert page.edges == [] and page.total_count == len(ORDER)
    assert page.page_info.has_next_page and not page.page_info.has_previous_page


def test_first_none_means_the_default(data: SnapshotSet) -> None:
    assert len(ORDER) <= DEFAULT_FIRST
    assert ids(connection(data, first=None)) == ORDER


def test_filters_that_select_nothing_give_an_empty_connection(data: SnapshotSet) -> None:
    for query in (
        {"team": "nobody"},
        {"region": "atlantis"},
        {"start_from": (T0 + pd.Timedelta(days=30)).to_pydatetime()},
        {"start_to": (T0 - pd.Timedelta(days=30)).to_pydatetime()},
    ):
        page = connection(data, **query)
        assert (page.edges, page.total_count) == ([], 0), query
        assert not page.page_info.has_next_page and not page.page_info.has_previous_page
        assert page.page_info.end_cursor is None


def test_filters_combine_with_the_cursor(data: SnapshotSet) -> None:
    pages = walk(data, 1, region="england")
    assert [i for page in pages for i in ids(page)] == [10, 20]
    assert {page.total_count for page in pages} == {2}
    assert ids(connection(data, future_only=True)) == [40]


async def test_a_cursor_from_before_a_refresh_continues_on_the_new_snapshot(
    tmp_path: Path,
) -> None:
    snapshot_data.write(tmp_path)
    sources, old = await snapshot_data.load(tmp_path)
    first = connection(old, first=2)
    assert ids(first) == [30, 10]
    frame = snapshot_data.catalog()
    added = frame.loc[[15]].rename(index={15: 12})  # same start as 10, 15 and 20
    earlier = frame.loc[[30]].rename(index={30: 5})  # before the cursor: never served now
    refreshed = pd.concat([frame.drop(index=[10]), added, earlier])
    datasets.write(tmp_path, datasets.FEATURES, refreshed)
    new = await sources.refresh()
    assert new.version != old.version
    page = connection(new, first=10, after=first.page_info.end_cursor)
    # 10 itself is gone; 12 sorts after it at the same start time, 5 and 30 before it.
    assert ids(page) == [12, 15, 20, 40]
    assert page.total_count == 6 and page.page_info.has_previous_page
    # The old snapshot, still pinned by whoever holds it, is unchanged.
    assert ids(connection(old, first=10, after=first.page_info.end_cursor)) == [15, 20, 40]


def test_bad_arguments_are_bad_user_input(data: SnapshotSet) -> None:
    with pytest.raises(GraphError) as too_many:
        match_connection(info(data, max_first=3), MatchQuery(first=4))
    with pytest.raises(GraphError) as negative:
        connection(data, first=-1)
    with pytest.raises(GraphError) as malformed:
        connection(data, after="not-a-cursor")
    with pytest.raises(GraphError) as empty_range:
        connection(data, start_from=T0.to_pydatetime(), start_to=T0.to_pydatetime())
    for raised in (too_many, negative, malformed, empty_range):
        assert raised.value.extensions == {"code": Code.BAD_USER_INPUT.value}
    assert ids(match_connection(info(data, max_first=3), MatchQuery(first=3))) == ORDER[:3]
