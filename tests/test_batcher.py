"""Concurrent live predictions share one call of the real registered model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graph.settings import Settings
from jobs.batcher import RowBatcher
from jobs.registry import ModelRegistry, ServedModel

# The worker silences this on purpose (jobs.registry.quiet_feature_name_warning): rows are
# arrays in the fitted column order.
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")


@pytest.fixture(scope="module")
def champion(demo_settings: Settings, demo_dir: Path) -> ServedModel:
    model = ModelRegistry(demo_settings).load("champion")
    assert model is not None
    return model


@pytest.fixture(scope="module")
def rows(demo_dir: Path, champion: ServedModel) -> np.ndarray:
    catalog = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    upcoming = catalog[catalog["is_future"]].head(25).assign(sex=0.0)
    return upcoming.reindex(columns=list(champion.columns)).astype(float).to_numpy()


def one_by_one(model: ServedModel, rows: np.ndarray) -> np.ndarray:
    return np.vstack([model.predict_rows(row[np.newaxis, :]) for row in rows])


async def test_concurrent_rows_share_one_call(champion: ServedModel, rows: np.ndarray) -> None:
    batcher = RowBatcher(champion.predict_rows)
    outputs = await asyncio.gather(*(batcher.predict(row) for row in rows))
    assert (batcher.calls, batcher.rows) == (1, len(rows))
    np.testing.assert_allclose(np.vstack(outputs), one_by_one(champion, rows), atol=1e-12)


async def test_rows_awaited_one_at_a_time_are_not_held_back(
    champion: ServedModel, rows: np.ndarray
) -> None:
    batcher = RowBatcher(champion.predict_rows)
    outputs = [await batcher.predict(row) for row in rows[:5]]
    assert (batcher.calls, batcher.rows) == (5, 5)
    np.testing.assert_allclose(np.vstack(outputs), one_by_one(champion, rows[:5]), atol=1e-12)


async def test_a_failing_call_fails_every_row_with_the_models_error(
    champion: ServedModel, rows: np.ndarray
) -> None:
    batcher = RowBatcher(champion.predict_rows)
    narrow = rows[:3, :-1]  # one column short of what the model was fitted on
    results = await asyncio.gather(*(batcher.predict(r) for r in narrow), return_exceptions=True)
    assert all(isinstance(r, ValueError) and "features" in str(r) for r in results), results
    assert batcher.calls == 1
    again = await batcher.predict(rows[0])  # the batcher is usable afterwards
    np.testing.assert_allclose(again, one_by_one(champion, rows[:1])[0], atol=1e-12)


async def test_a_job_cancelled_before_the_call_is_skipped(
    champion: ServedModel, rows: np.ndarray
) -> None:
    batcher = RowBatcher(champion.predict_rows)
    tasks = [asyncio.create_task(batcher.predict(row)) for row in rows[:3]]
    await asyncio.sleep(0)  # every task has queued its row; the call has not run yet
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    expected = one_by_one(champion, rows[:3])
    np.testing.assert_allclose(np.vstack([done[0], done[2]]), expected[[0, 2]], atol=1e-12)
    assert (batcher.calls, batcher.rows) == (1, 2)


async def test_a_busy_worker_holds_a_row_for_the_jobs_behind_it(
    champion: ServedModel, rows: np.ndarray
) -> None:
    batcher = RowBatcher(champion.predict_rows, window=0.2, busy=lambda: True)
    first = asyncio.create_task(batcher.predict(rows[0]))
    await asyncio.sleep(0.02)  # a later job, several loop turns behind the first one
    assert not first.done()
    second = await batcher.predict(rows[1])
    assert first.done() and (batcher.calls, batcher.rows) == (1, 2)
    expected = one_by_one(champion, rows[:2])
    np.testing.assert_allclose(np.vstack([await first, second]), expected, atol=1e-12)


async def test_the_window_closes_without_company(champion: ServedModel, rows: np.ndarray) -> None:
    loop = asyncio.get_running_loop()
    batcher = RowBatcher(champion.predict_rows, window=0.05, busy=lambda: True)
    started = loop.time()
    output = await batcher.predict(rows[0])
    assert loop.time() - started >= 0.04 and (batcher.calls, batcher.rows) == (1, 1)
    np.testing.assert_allclose(output, one_by_one(champion, rows[:1])[0], atol=1e-12)


async def test_a_full_call_goes_at_once(champion: ServedModel, rows: np.ndarray) -> None:
    batcher = RowBatcher(champion.predict_rows, window=60.0, max_rows=4, busy=lambda: True)
    # Held for the window, these would time out: four rows fill the call.
    await asyncio.wait_for(asyncio.gather(*(batcher.predict(row) for row in rows[:4])), 10)
    assert (batcher.calls, batcher.rows) == (1, 4)


async def test_an_idle_worker_never_holds_a_row(champion: ServedModel, rows: np.ndarray) -> None:
    batcher = RowBatcher(champion.predict_rows, window=60.0, busy=lambda: False)
    outputs = [await asyncio.wait_for(batcher.predict(row), 10) for row in rows[:3]]
    assert (batcher.calls, batcher.rows) == (3, 3)
    np.testing.assert_allclose(np.vstack(outputs), one_by_one(champion, rows[:3]), atol=1e-12)
