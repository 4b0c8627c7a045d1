"""The live-score repository on PostgreSQL and SQLite: upserts, reads, outages, migrations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.settings import Settings
from graph.sources import migrations
from graph.sources.database import create_engine_for, ensure_schema
from graph.sources.errors import DatabaseUnavailable
from graph.sources.livescore_models import LiveScoreRow
from graph.sources.livescores import LiveScoreRepository, UpsertCounts, open_live_scores
from jobs.feeds.catalog import fill_livescores_from_catalog
from tests import datasets
from tests.fixtures.database import StatementLog, fresh_postgres

DECEMBER = datetime(2020, 12, 1, tzinfo=UTC)


def rows(n: int, *, start: datetime = DECEMBER) -> list[LiveScoreRow]:
    return [
        LiveScoreRow(
            match_id=i,
            start_time_utc=start + timedelta(hours=(i * 7) % 500),
            home_team_name=f"Home {i}",
            away_team_name=f"Away {i}",
            home_score=i % 4,
            away_score=None if i % 5 == 0 else i % 3,
            status="FT",
            region="England",
            tournament="Premier League",
        )
        for i in range(1, n + 1)
    ]


async def test_upsert_counts_and_replay_changes_nothing(repository: LiveScoreRepository) -> None:
    batch = rows(300)
    assert await repository.upsert(batch) == UpsertCounts(300, 0, 0)
    written = await repository.by_ids([r.match_id for r in batch])
    assert await repository.upsert(batch) == UpsertCounts(0, 0, 300)
    again = await repository.by_ids([r.match_id for r in batch])
    assert again == written  # updated_at included: unchanged rows are not rewritten


async def test_changed_rows_are_updated_and_new_ones_inserted(
    repository: LiveScoreRepository,
) -> None:
    await repository.upsert(rows(10))
    before = (await repository.by_ids([3]))[3]
    changed = LiveScoreRow(3, before.start_time_utc, "Home 3", "Away 3", 5, 5, "FT")
    new = LiveScoreRow(11, DECEMBER, "Home 11", "Away 11", None, None, "18'")
    assert await repository.upsert([changed, new]) == UpsertCounts(1, 1, 0)
    after = await repository.by_ids([3, 11, 12])
    assert set(after) == {3, 11}
    assert after[3].content() == changed.content()
    assert after[3].updated_at is not None and before.updated_at is not None
    assert after[3].updated_at > before.updated_at


async def test_month_is_ordered_and_paged(repository: LiveScoreRepository) -> None:
    batch = rows(400)
    january = [
        LiveScoreRow(1000 + i, datetime(2021, 1, 1, tzinfo=UTC), "H", "A", 1, 0, "FT")
        for i in range(3)
    ]
    await repository.upsert(batch + january)
    december = await repository.month(2020, 12, limit=10_000)
    expected = sorted(
        (r for r in batch if r.start_time_utc and r.start_time_utc.month == 12),
        key=lambda r: (r.start_time_utc, r.match_id),
    )
    assert [r.match_id for r in december] == [r.match_id for r in expected]
    page = await repository.month(2020, 12, limit=7, offset=5)
    assert [r.match_id for r in page] == [r.match_id for r in expected[5:12]]
    assert [r.match_id for r in await repository.month(2021, 1, limit=10)] == [1000, 1001, 1002]
    assert all(r.start_time_utc and r.start_time_utc.tzinfo == UTC for r in december)


async def test_a_page_of_5000_ids_is_one_statement(repository: LiveScoreRepository) -> None:
    await repository.upsert(rows(6000))
    with StatementLog(repository.engine).listening() as log:
        found = await repository.by_ids(list(range(1, 5001)))
    assert len(found) == 5000
    assert len(log.touching()) == 1


async def test_down_database_fails_fast_and_is_reported(dead_database_url: str) -> None:
    started = time.perf_counter()
    async with open_live_scores(Settings(database_url=dead_database_url)) as repository:
        assert repository.problems()  # start-up found it down and said so
        with pytest.raises(DatabaseUnavailable, match="unavailable"):
            await repository.by_ids([1, 2, 3])
        with pytest.raises(DatabaseUnavailable):
            await repository.upsert(rows(2))
        with pytest.raises(DatabaseUnavailable):
            await repository.month(2020, 12, limit=10)
    assert time.perf_counter() - started < 5
    assert "127.0.0.1" not in repository.problems()[0]  # no host or credentials leaked


async def test_schema_is_created_lazily_once_the_database_is_up() -> None:
    async with fresh_postgres() as url:
        engine = await create_engine_for(Settings(database_url=url))
        repository = LiveScoreRepository(engine)  # never prepared: as after a failed start-up
        try:
            assert await repository.upsert(rows(2)) == UpsertCounts(2, 0, 0)
            assert repository.problems() == []
        finally:
            await engine.dispose()


async def test_migrations_create_the_same_table_and_accept_a_started_database(
    database_url: str,
) -> None:
    engine = await create_engine_for(Settings(database_url=database_url))
    try:
        assert await migrations.current(engine) is None
        await migrations.upgrade(engine)
        assert await migrations.current(engine) == "0001"
        columns = await _columns(engine)
        await migrations.downgrade(engine, "base")
        await ensure_schema(engine)  # what the API does at start-up ...
        assert await _columns(engine) == columns
        await migrations.upgrade(engine)  # ... and production migrating afterwards
        assert await migrations.current(engine) == "0001"
        repository = LiveScoreRepository(engine)
        assert await repository.upsert(rows(3)) == UpsertCounts(3, 0, 0)
    finally:
        await engine.dispose()


async def _columns(engine: AsyncEngine) -> dict[str, tuple[str, bool]]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda c: inspect(c).get_columns("match_raw"))
    return {c["name"]: (str(c["type"]), c["nullable"]) for c in found}


async def test_finished_catalog_matches_fill_the_table(
    repository: LiveScoreRepository,
) -> None:
    catalog = datasets.catalog(200)
    finished = catalog[~catalog["is_future"]]
    first = await fill_livescores_from_catalog(repository, catalog)
    assert (first.inserted, first.updated, first.unchanged) == (len(finished), 0, 0)
    stored = await repository.by_ids(catalog.index.tolist())
    assert set(stored) == set(finished.index)
    row, source = stored[1], catalog.loc[1]
    assert (row.home_team_name, row.away_team_name) == (source.homeTeamName, source.awayTeamName)
    assert row.status == "FT"
    assert (row.home_score, row.away_score) == (source["homeScore"], source["awayScore"])
    assert row.start_time_utc == source["startTimeUtc"].to_pydatetime()
    assert (row.region, row.tournament) == (source["region"], "Cup")
    again = await fill_livescores_from_catalog(repository, catalog)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(finished))
