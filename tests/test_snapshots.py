"""Snapshots: lazy load, re-check by etag, keep the last good table, atomic swaps."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from graph.sources.catalog import MatchFilter
from graph.sources.local import LocalStorage
from graph.sources.snapshots import SnapshotSet, Sources, TableStatus
from graph.sources.storage import Storage
from graph.sources.tables import CATALOG, ODDS, PREDICTIONS, ROI

START = pd.Timestamp("2026-03-01T12:00:00Z")


def catalog_frame(*ids: int) -> pd.DataFrame:
    """match_features.parquet with one match an hour from START per id."""
    return pd.DataFrame(
        {
            "startTimeUtc": [START + pd.Timedelta(hours=i) for i in range(len(ids))],
            "homeTeamName": [f"Home {i}" for i in ids],
            "awayTeamName": [f"Away {i}" for i in ids],
            "region": "England",
            "sex": 0,
            "is_future": True,
            "diff_goals_w5": 0.5,
        },
        index=pd.Index(ids, name="match_id", dtype="int64"),
    )


def id_frame(ids: list[int], **columns: object) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.Index(ids, name="match_id", dtype="int64"))


async def write_catalog(storage: Storage, *ids: int) -> None:
    await storage.put_dataframe(CATALOG.bucket, CATALOG.key, catalog_frame(*ids))


async def write_bad_catalog(storage: Storage, kind: str) -> None:
    if kind == "garbage":
        await storage.put(CATALOG.bucket, CATALOG.key, b"this is not parquet")
    else:
        frame = catalog_frame(7, 8).drop(columns="homeTeamName")
        await storage.put_dataframe(CATALOG.bucket, CATALOG.key, frame)


BAD = {"garbage": "unreadable parquet", "missing column": "homeTeamName"}


def ids(snapshots: SnapshotSet) -> list[int]:
    return [int(i) for i in snapshots.catalog.ids]


def status(sources: Sources, name: str = CATALOG.name) -> TableStatus:
    return next(s for s in sources.status() if s.name == name)


async def next_version(sources: Sources, old: str | None) -> SnapshotSet:
    """Wait (briefly) for a background refresh to swap in a new set."""
    for _ in range(500):
        if sources.version != old:
            return await sources.current()
        await asyncio.sleep(0.01)
    raise AssertionError(f"still serving version {old} after 5 s")


@pytest.fixture
def sources(storage: Storage) -> Sources:
    return Sources(storage, refresh_seconds=3600)


async def test_missing_file_is_an_empty_table_not_present(sources: Sources) -> None:
    snapshots = await sources.refresh()
    assert len(snapshots.catalog) == 0
    assert snapshots.catalog.page(MatchFilter(), first=10, after=None).total_count == 0
    catalog = status(sources)
    assert (catalog.present, catalog.loaded, catalog.rows, catalog.error) == (False, True, 0, None)


async def test_loads_parquet_written_with_put_dataframe(storage: Storage, sources: Sources) -> None:
    await write_catalog(storage, 3, 1, 2)
    snapshots = await sources.refresh()
    assert ids(snapshots) == [3, 1, 2]  # ordered by start time, not by id
    assert snapshots.catalog.feature_names == ["diff_goals_w5"]
    catalog = status(sources)
    assert (catalog.present, catalog.loaded, catalog.rows, catalog.error) == (True, True, 3, None)
    assert catalog.modified_at is not None


async def test_loads_the_other_tables_with_only_required_columns(
    storage: Storage, sources: Sources
) -> None:
    probas = {"proba_home": [0.5], "proba_draw": [0.3], "proba_away": [0.2]}
    labels = {"predicted_class": [0], "predicted_label": ["home"]}
    await storage.put_dataframe(
        PREDICTIONS.bucket, PREDICTIONS.key, id_frame([5], **probas, **labels)
    )
    odds = {"odd_home": [2.0], "odd_draw": [3.1], "odd_away": [4.2]}
    await storage.put_dataframe(ODDS.bucket, ODDS.key, id_frame([5], **odds))
    roi = pd.DataFrame({"region": ["England"], "n_bets": [10], "roi": [0.05]})
    await storage.put_dataframe(ROI.bucket, ROI.key, roi)
    snapshots = await sources.refresh()
    assert [s.error for s in sources.status()] == [None] * len(sources.status())
    assert snapshots.predictions.take([5], ["proba_home"]).columns["proba_home"] == [0.5]
    assert snapshots.odds.take([5], ["odd_away"]).columns["odd_away"] == [4.2]
    assert snapshots.roi.take(["england"], ["roi"]).columns["roi"] == [0.05]
    assert snapshots.orphan_ids.tolist() == [5]


async def test_replaced_file_is_picked_up_with_a_new_version(
    storage: Storage, sources: Sources
) -> None:
    await write_catalog(storage, 1)
    first = await sources.refresh()
    await write_catalog(storage, 1, 2)
    second = await sources.refresh()
    assert ids(second) == [1, 2]
    assert second.version != first.version
    assert sources.version == second.version


async def test_unchanged_file_does_not_rebuild(storage: Storage, sources: Sources) -> None:
    await write_catalog(storage, 1)
    first = await sources.refresh()
    assert await sources.refresh() is first


@pytest.mark.parametrize("kind", BAD)
async def test_corrupt_replacement_keeps_last_good_and_reports_until_fixed(
    storage: Storage, sources: Sources, kind: str
) -> None:
    await write_catalog(storage, 1, 2)
    good = await sources.refresh()
    await write_bad_catalog(storage, kind)
    assert await sources.refresh() is good
    assert ids(good) == [1, 2]
    catalog = status(sources)
    assert BAD[kind] in (catalog.error or "")
    assert (catalog.loaded, catalog.rows) == (True, 2)
    await write_catalog(storage, 1, 2, 3)
    assert ids(await sources.refresh()) == [1, 2, 3]
    assert status(sources).error is None


@pytest.mark.parametrize("kind", BAD)
async def test_file_invalid_from_the_start_is_not_loaded(
    storage: Storage, sources: Sources, kind: str
) -> None:
    await write_bad_catalog(storage, kind)
    snapshots = await sources.refresh()
    assert len(snapshots.catalog) == 0
    catalog = status(sources)
    assert not catalog.loaded
    assert BAD[kind] in (catalog.error or "")


async def test_pinned_set_keeps_old_data_after_a_swap(storage: Storage, sources: Sources) -> None:
    await write_catalog(storage, 1)
    pinned = await sources.refresh()
    version = pinned.version
    await write_catalog(storage, 1, 2)
    await sources.refresh()
    assert ids(pinned) == [1]
    assert pinned.version == version
    assert ids(await sources.current()) == [1, 2]


async def test_current_loads_lazily_on_first_call(storage: Storage, sources: Sources) -> None:
    await write_catalog(storage, 1)
    assert sources.version is None
    assert not any(s.loaded for s in sources.status())
    assert ids(await sources.current()) == [1]
    assert all(s.loaded for s in sources.status())


async def test_fresh_current_does_not_recheck(storage: Storage, sources: Sources) -> None:
    await write_catalog(storage, 1)
    first = await sources.current()
    await write_catalog(storage, 1, 2)
    assert await sources.current() is first


async def test_stale_current_answers_at_once_and_refreshes_in_background(
    storage: Storage,
) -> None:
    sources = Sources(storage, refresh_seconds=0.05)
    await write_catalog(storage, 1)
    first = await sources.current()
    await write_catalog(storage, 1, 2)
    await asyncio.sleep(0.06)
    assert await sources.current() is first  # served without waiting for the re-check
    assert ids(await next_version(sources, first.version)) == [1, 2]


class CountingStorage(LocalStorage):
    """A real LocalStorage that counts reads and pauses in each, so refreshes overlap."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        self.reads[key] += 1
        await asyncio.sleep(0.01)
        return await super().get_bytes(bucket, key)


async def test_concurrent_refreshes_are_serialised(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    sources = Sources(storage, refresh_seconds=3600)
    await write_catalog(storage, 1)
    await sources.refresh()
    await write_catalog(storage, 1, 2)
    results = await asyncio.gather(*(sources.refresh() for _ in range(5)))
    assert storage.reads[CATALOG.key] == 2  # the change was read once, not once per caller
    assert all(r is results[0] for r in results)
    assert ids(results[0]) == [1, 2]
