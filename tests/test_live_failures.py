"""Live predictions when parts fail: a worker killed mid-job, Redis gone, batch runs."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from graph.settings import Settings
from graph.sources.tables import PREDICTIONS
from tests.fixtures.server import ServeFactory
from tests.fixtures.worker import OwnRedis, worker_env
from tests.fixtures.ws import subscribe

FOLLOW = "subscription($id: ID!) { task(id: $id) { id status error result { probaHome } } }"
SUBMIT = "mutation($m: Int!) { predictMatch(matchId: $m) { id status } }"


@pytest.fixture(scope="module")
def match_id(demo_dir: Path) -> int:
    frame = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    return int(frame[frame.filter(like="diff_").notna().all(axis=1)].index[-1])


async def _until_status(api: Any, task_id: str, status: str, within: float = 30) -> None:
    query = "query($id: ID!) { task(id: $id) { status } }"
    deadline = time.monotonic() + within
    while (await api.data(query, {"id": task_id}))["task"]["status"] != status:
        assert time.monotonic() < deadline, f"task never reached {status}"
        await asyncio.sleep(0.05)


async def test_a_job_whose_worker_dies_completes_on_a_new_worker(
    serve: ServeFactory,
    start_worker: Any,
    live_settings: Settings,
    own_redis: OwnRedis,
    match_id: int,
) -> None:
    settings = live_settings.model_copy(update={"redis_url": own_redis.url})
    api = serve(data_dir=settings.data_dir, redis_url=settings.redis_url)
    doomed = start_worker(
        settings,
        queues="short",
        MATCHGRAPH_JOB_DELAY_SECONDS="60",  # holds the job in progress until we kill it
        MATCHGRAPH_SHORT_JOB_TIMEOUT="2",  # so its in-progress mark expires 12 s later
    )
    task = (await api.data(SUBMIT, {"m": match_id}))["predictMatch"]
    follower = asyncio.create_task(subscribe(api.ws_url, FOLLOW, {"id": task["id"]}, within=90))
    await _until_status(api, task["id"], "IN_PROGRESS")
    doomed.kill()
    start_worker(settings, queues="short", MATCHGRAPH_SHORT_JOB_TIMEOUT="2")
    states = await follower
    assert [s["task"]["status"] for s in states][-1] == "COMPLETE"
    assert states[-1]["task"]["result"]["probaHome"] > 0


async def test_redis_down_keeps_the_read_path_and_fails_live_operations_fast(
    serve: ServeFactory, live_settings: Settings, own_redis: OwnRedis, match_id: int
) -> None:
    api = serve(data_dir=live_settings.data_dir, redis_url=own_redis.url)
    own_redis.stop()
    started = time.monotonic()
    body = await api.graphql(SUBMIT, {"m": match_id})
    assert time.monotonic() - started < 3, "live operations must fail fast"
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    mixed = await api.graphql("{ matches(first: 2) { totalCount } queue { queued } }")
    assert mixed["data"]["matches"]["totalCount"] > 0
    assert mixed["data"]["queue"] is None
    assert mixed["errors"][0]["path"] == ["queue"]
    assert mixed["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"

    async def degraded() -> bool:
        async with api.client() as client:
            ready = await client.get("/ready")
        return ready.status_code == 200 and any("redis" in d for d in ready.json()["degraded"])

    deadline = time.monotonic() + 15
    while not await degraded():
        assert time.monotonic() < deadline, "/ready never reported Redis"
        await asyncio.sleep(0.1)


def test_batch_inference_rewrites_predictions_with_the_champion(
    live_settings: Settings, demo_summary: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(live_settings.data_dir, data_dir)
    settings = live_settings.model_copy(update={"data_dir": data_dir})
    target = data_dir / "predictions" / "predictions.parquet"
    target.unlink()
    env = worker_env(settings, MLFLOW_TRACKING_URI=settings.effective_mlflow_uri)
    subprocess.run(
        [sys.executable, "-m", "api.cli", "batch"], env=env, check=True, capture_output=True
    )
    written = pd.read_parquet(target)
    catalog = pd.read_parquet(data_dir / "predictions" / "match_features.parquet")
    assert written.index.name == "match_id"
    assert PREDICTIONS.dtype_problems(written) == []
    assert set(written.index) == set(catalog.index)
    assert set(written["model_run_id"]) == {demo_summary.champion_run_id}
    # the champion run's training window, read from the registry by the worker
    demo = pd.read_parquet(live_settings.data_dir / "predictions" / "predictions.parquet")
    assert set(written["model_trained_until"]) == set(demo["model_trained_until"])
    assert written["model_trained_until"].notna().all()
    probabilities = written[["proba_home", "proba_draw", "proba_away"]].sum(axis=1)
    assert probabilities.to_numpy() == pytest.approx(1.0)
    assert (
        written["predicted_class"]
        == written[["proba_home", "proba_draw", "proba_away"]].to_numpy().argmax(axis=1)
    ).all()
    assert os.path.getsize(target) > 0
