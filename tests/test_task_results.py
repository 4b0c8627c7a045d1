"""The typed records jobs produce: one wire format, decoded in one place."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from graph import tasks
from graph.taskqueue.results import (
    IngestResult,
    ModelInfoResult,
    PredictionResult,
    decode_result,
)
from graph.taskqueue.serializer import dumps, loads
from graph.taskqueue.state import TaskState, TaskStatus

PREDICTION = PredictionResult(
    match_id=7,
    proba_home=0.5,
    proba_draw=0.3,
    proba_away=0.2,
    predicted_class=0,
    predicted_label="home",
    model_name="soccer-1x2",
    model_version="3",
    model_stage="champion",
    model_run_id="abc",
    features_computed_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    predicted_at=datetime(2026, 3, 1, 12, 0, 1, 250000, tzinfo=UTC),
)
MODEL_INFO = ModelInfoResult(
    name="soccer-1x2",
    version="3",
    stage="challenger",
    run_id="abc",
    metrics={"log_loss": 0.98},
    params={"max_depth": "6"},
    created_at=datetime(2026, 2, 1, tzinfo=UTC),
)


def stored(value: object) -> object:
    """What a follower reads back: the job's value through arq's JSON serializer."""
    return loads(dumps(value))


def test_each_record_survives_the_queue() -> None:
    assert decode_result("predict_match", stored(PREDICTION.as_dict())) == PREDICTION
    assert decode_result("predict_features", stored(PREDICTION.as_dict())) == PREDICTION
    assert decode_result("model_info", stored(MODEL_INFO.as_dict())) == MODEL_INFO
    ingest = IngestResult(inserted=2, rejected=1, unlinked=0, messages=["why"])
    assert decode_result("ingest_fonbet_odds", stored(ingest.as_dict())) == ingest


def test_the_wire_format_is_plain_json_with_iso_times() -> None:
    values = orjson.loads(dumps(PREDICTION.as_dict()))
    assert values["features_computed_at"] == "2026-03-01T12:00:00+00:00"
    assert values["predicted_at"] == "2026-03-01T12:00:01.250000+00:00"
    assert values["predicted_label"] == "home"


def test_what_is_no_record_decodes_to_none() -> None:
    assert decode_result("predict_match", None) is None
    assert decode_result("predict_match", {"ok": True}) is None
    assert decode_result("batch_inference", {"rows": 3}) is None
    assert decode_result("model_info", "a string") is None


def test_the_schema_serves_the_records_and_the_one_task_status() -> None:
    state = TaskState(
        id="t1",
        kind="predict_match",
        status=TaskStatus.COMPLETE,
        kwargs={"match_id": 7, "stage": "champion"},
        result=stored(PREDICTION.as_dict()),
    )
    task = tasks.task_from_state(state)
    assert task.status is TaskStatus.COMPLETE  # the contract's enum, exposed as is
    assert task.result is not None and task.ingest_result is None
    assert (task.result.predicted_outcome, task.result.model_stage) == (
        tasks.Outcome.HOME,
        tasks.ModelStage.CHAMPION,
    )
    assert task.result.predicted_at == "2026-03-01T12:00:01.250000+00:00"
    info = tasks.model_info_from(MODEL_INFO)
    assert (info.stage, info.created_at) == (
        tasks.ModelStage.CHALLENGER,
        "2026-02-01T00:00:00+00:00",
    )
    assert [(m.name, m.value) for m in info.metrics] == [("log_loss", 0.98)]
