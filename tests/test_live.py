"""Live predictions through a real arq worker, real Redis and a real MLflow registry."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import websockets

from graph.settings import Settings
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.worker import WorkerProcess
from tests.fixtures.ws import LEGACY_WS, TRANSPORT_WS, closed_code, subscribe

TASK_FIELDS = """id kind status matchId stage error enqueuedAt startedAt finishedAt
  result { matchId probaHome probaDraw probaAway predictedClass predictedOutcome
           modelName modelVersion modelStage modelRunId featuresComputedAt predictedAt }"""
PREDICT = f"""mutation($m: Int!, $s: ModelStage, $w: Boolean) {{
  predictMatch(matchId: $m, stage: $s, wait: $w) {{ {TASK_FIELDS} }} }}"""
TASK = f"query($id: ID!) {{ task(id: $id) {{ {TASK_FIELDS} }} }}"
FOLLOW = f"subscription($id: ID!) {{ task(id: $id) {{ {TASK_FIELDS} }} }}"
SUBMIT_AND_FOLLOW = f"""subscription($m: Int!, $s: ModelStage) {{
  predictMatch(matchId: $m, stage: $s) {{ {TASK_FIELDS} }} }}"""


@pytest.fixture(scope="module")
def live(serve: ServeFactory, live_settings: Settings, session_worker: WorkerProcess) -> LiveServer:
    return serve(data_dir=live_settings.data_dir, redis_url=live_settings.redis_url)


@pytest.fixture(scope="module")
def catalog(demo_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")


@pytest.fixture(scope="module")
def upcoming(catalog: pd.DataFrame) -> int:
    features = catalog.filter(like="diff_")
    ready = catalog[catalog["is_future"] & features.notna().all(axis=1)]
    return int(ready.index[0])


def registry_prediction(settings: Settings, stage: str, row: pd.Series) -> list[float]:
    """The registered model's own output on the same features."""
    import mlflow.sklearn

    from jobs.registry import use_registry

    use_registry(settings.effective_mlflow_uri)
    model = mlflow.sklearn.load_model(f"models:/{settings.mlflow_model_name}@{stage}")
    inputs = row.to_frame().T.assign(sex=float(row["sex"]))
    frame = inputs.reindex(columns=list(model.feature_names_in_)).astype(float)
    return [float(p) for p in model.predict_proba(frame)[0]]


def _probabilities(task: dict[str, Any]) -> list[float]:
    result = task["result"]
    return [result["probaHome"], result["probaDraw"], result["probaAway"]]


@pytest.mark.parametrize("stage", ["CHAMPION", "CHALLENGER"])
async def test_wait_returns_the_models_own_prediction(
    live: LiveServer, live_settings: Settings, catalog: pd.DataFrame, upcoming: int, stage: str
) -> None:
    data = await live.data(PREDICT, {"m": upcoming, "s": stage, "w": True})
    task = data["predictMatch"]
    assert task["status"] == "COMPLETE", task
    assert (task["kind"], task["matchId"], task["stage"]) == ("predict_match", upcoming, stage)
    expected = registry_prediction(live_settings, stage.lower(), catalog.loc[upcoming])
    assert _probabilities(task) == pytest.approx(expected, abs=1e-12)
    result = task["result"]
    assert result["modelStage"] == stage and result["modelName"] == "soccer-1x2"
    assert result["predictedClass"] == max(range(3), key=lambda i: expected[i])
    assert task["enqueuedAt"] <= task["startedAt"] <= task["finishedAt"]


async def test_poll_until_complete(live: LiveServer, upcoming: int) -> None:
    submitted = (await live.data(PREDICT, {"m": upcoming}))["predictMatch"]
    assert submitted["status"] in {"QUEUED", "IN_PROGRESS", "COMPLETE"}
    assert submitted["stage"] == "CHAMPION"
    deadline = time.monotonic() + 30
    while True:
        task = (await live.data(TASK, {"id": submitted["id"]}))["task"]
        if task["status"] == "COMPLETE":
            break
        assert time.monotonic() < deadline, task
        await asyncio.sleep(0.05)
    assert task["result"]["matchId"] == upcoming


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_subscribe_to_a_task(live: LiveServer, upcoming: int, protocol: str) -> None:
    submitted = (await live.data(PREDICT, {"m": upcoming, "s": "CHALLENGER"}))["predictMatch"]
    states = await subscribe(live.ws_url, FOLLOW, {"id": submitted["id"]}, protocol=protocol)
    assert states[-1]["task"]["status"] == "COMPLETE"
    assert states[-1]["task"]["result"]["modelStage"] == "CHALLENGER"
    statuses = [s["task"]["status"] for s in states]
    assert statuses == sorted(set(statuses), key=statuses.index), "each change once"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_submit_and_follow_in_one_subscription(
    live: LiveServer, upcoming: int, protocol: str
) -> None:
    states = await subscribe(live.ws_url, SUBMIT_AND_FOLLOW, {"m": upcoming}, protocol=protocol)
    tasks = [s["predictMatch"] for s in states]
    first, last = tasks[0], tasks[-1]
    assert first["status"] == "QUEUED" and first["enqueuedAt"] is not None  # as submitted
    assert last["status"] == "COMPLETE" and last["id"] == first["id"]
    assert [t["status"] for t in tasks] in (
        ["QUEUED", "IN_PROGRESS", "COMPLETE"],
        ["QUEUED", "COMPLETE"],  # both events arrived before the follower woke
    )
    for task in tasks[1:-1]:  # the start, told by the worker's event
        assert first["enqueuedAt"] <= task["startedAt"] <= last["finishedAt"]


async def test_unknown_task_is_not_found(live: LiveServer) -> None:
    data = await live.data(TASK, {"id": "no-such-task"})
    assert data["task"]["status"] == "NOT_FOUND"
    states = await subscribe(live.ws_url, FOLLOW, {"id": "no-such-task"})
    assert [s["task"]["status"] for s in states] == ["NOT_FOUND"]


async def test_invalid_matches_are_refused_before_enqueueing(
    live: LiveServer, demo_dir: Path, catalog: pd.DataFrame
) -> None:
    unknown = await live.graphql(PREDICT, {"m": 2_000_000_000})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    predictions = pd.read_parquet(demo_dir / "predictions" / "predictions.parquet")
    orphan = int(predictions.index.difference(catalog.index)[0])
    body = await live.graphql(PREDICT, {"m": orphan})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_what_if_feature_vector(live: LiveServer, live_settings: Settings) -> None:
    query = """mutation($f: [FeatureInput!]!) {
      predictFeatures(features: $f, women: true, stage: CHAMPION, wait: true) {
        status kind matchId result { matchId probaHome probaDraw probaAway } } }"""
    features = [
        {"name": "diff_goals_scored_w5", "value": 1.5},
        {"name": "diff_points_w5", "value": 2},
    ]
    task = (await live.data(query, {"f": features}))["predictFeatures"]
    assert task["status"] == "COMPLETE" and task["kind"] == "predict_features"
    assert task["result"]["matchId"] is None
    row = pd.Series({"diff_goals_scored_w5": 1.5, "diff_points_w5": 2.0, "sex": 1.0})
    expected = registry_prediction(live_settings, "champion", row)
    assert _probabilities(task) == pytest.approx(expected, abs=1e-12)
    bad = await live.graphql(query, {"f": [{"name": "diff_nope_w5", "value": 1}]})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "diff_points_w5" in bad["errors"][0]["extensions"]["validNames"]


async def test_model_info_matches_the_registry(live: LiveServer, demo_summary: Any) -> None:
    query = "{ model(stage: CHALLENGER) { name version stage runId metrics { name value } } }"
    info = (await live.data(query))["model"]
    assert info["version"] == demo_summary.challenger_version
    assert info["runId"] == demo_summary.challenger_run_id
    assert {m["name"] for m in info["metrics"]} >= {"log_loss", "accuracy"}
    again = await live.graphql(query)
    assert again["data"]["model"] == info


async def test_queue_and_workers(live: LiveServer) -> None:
    data = await live.data("{ queue { queued inProgress scheduled } workers { name queue alive } }")
    assert data["queue"] == {"queued": 0, "inProgress": 0, "scheduled": 0}
    queues = {w["queue"] for w in data["workers"] if w["alive"]}
    names = live.settings.redis_names  # this session's database: matchgraph:db<N>:queue:*
    assert queues == {names.short_queue, names.long_queue}


async def test_concurrent_predictions_are_counted_with_their_model_calls(
    live: LiveServer, catalog: pd.DataFrame
) -> None:
    ready = catalog[catalog["is_future"] & catalog.filter(like="diff_").notna().all(axis=1)]
    ids = [int(i) for i in ready.index[:30]]
    tasks = await asyncio.gather(
        *(live.data(PREDICT, {"m": m, "s": "CHAMPION", "w": True}) for m in ids)
    )
    assert [t["predictMatch"]["status"] for t in tasks] == ["COMPLETE"] * len(ids)
    assert [t["predictMatch"]["result"]["matchId"] for t in tasks] == ids
    query = "{ workers { queue alive livePredictions modelCalls } }"
    deadline = time.monotonic() + 15  # the counters travel with the next heartbeat (5 s)
    while True:
        workers = {w["queue"]: w for w in (await live.data(query))["workers"] if w["alive"]}
        short = workers[live.settings.redis_names.short_queue]
        if (short["livePredictions"] or 0) >= len(ids) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert short["livePredictions"] >= len(ids)
    assert 1 <= short["modelCalls"] <= short["livePredictions"]
    long = workers[live.settings.redis_names.long_queue]
    assert (long["livePredictions"], long["modelCalls"]) == (None, None)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_websocket_bad_key_is_closed_4403(
    serve: ServeFactory, live_settings: Settings, protocol: str
) -> None:
    api = serve(
        data_dir=live_settings.data_dir, redis_url=live_settings.redis_url, header_token="k"
    )
    async with websockets.connect(api.ws_url, subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": "nope"}}))
        assert await closed_code(ws) == 4403
    states = await subscribe(
        api.ws_url, FOLLOW, {"id": "x"}, protocol=protocol, payload={"X-API-Key": "k"}
    )
    assert states[0]["task"]["status"] == "NOT_FOUND"


def test_the_api_process_never_imports_mlflow() -> None:
    code = (
        "import sys; from api.app import create_app; create_app(); "
        "import api.graphql_view, graph.live, graph.taskqueue.client; "
        "assert 'mlflow' not in sys.modules and 'sklearn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


async def test_live_predictions_use_one_openmp_thread_and_batch_inference_every_core(
    live: LiveServer,
) -> None:
    """Measured inside the `matchgraph worker` process, in the threads that call the model:
    limiting the loop thread before the models load binds nothing (commit 135fc0b halved
    live throughput that way), and OMP_NUM_THREADS would hold batch inference to one core."""
    query = "{ workers { queue alive liveModelThreads batchModelThreads } }"
    workers = {w["queue"]: w for w in (await live.data(query))["workers"] if w["alive"]}
    short = next(w for q, w in workers.items() if q.endswith("short"))
    assert short["liveModelThreads"] == 1
    cores = len(os.sched_getaffinity(0))
    assert short["batchModelThreads"] == int(os.environ.get("OMP_NUM_THREADS", cores))
    if cores > 1 and "OMP_NUM_THREADS" not in os.environ:
        assert short["batchModelThreads"] > short["liveModelThreads"]
