"""Tasks (arq jobs) and what they produce: live predictions, model info, queue facts."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from graph.cost.directives import ListSize
from graph.livescores import IngestResult, ingest_result_of
from graph.matches import OUTCOMES, Outcome
from graph.scalars import IsoDateTime
from graph.taskqueue import results
from graph.taskqueue.state import TaskState, TaskStatus
from graph.taskqueue.workers import WorkerInfo


@strawberry.enum(description="MLflow registry aliases a model is served under.")
class ModelStage(Enum):
    CHAMPION = "champion"
    CHALLENGER = "challenger"


# The task contract's own enum, exposed as is (no second copy to keep in step).
strawberry.enum(TaskStatus, description="Where a task stands.")


@strawberry.type(description="A prediction computed on demand by a worker.")
class LivePrediction:
    match_id: int | None = strawberry.field(
        description="The match predicted; null for a what-if feature vector."
    )
    proba_home: float = strawberry.field(description="Probability of a home win.")
    proba_draw: float = strawberry.field(description="Probability of a draw.")
    proba_away: float = strawberry.field(description="Probability of an away win.")
    predicted_class: int = strawberry.field(description="0 home, 1 draw, 2 away.")
    predicted_outcome: Outcome = strawberry.field(description="`predictedClass` as an Outcome.")
    model_name: str = strawberry.field(description="Registered model name.")
    model_version: str = strawberry.field(description="Registered model version.")
    model_stage: ModelStage = strawberry.field(description="The stage that served it.")
    model_run_id: str = strawberry.field(description="MLflow run id of the model.")
    features_computed_at: IsoDateTime | None = strawberry.field(
        description="When match_features.parquet was written (file time)."
    )
    predicted_at: IsoDateTime = strawberry.field(description="When the worker predicted.")


@strawberry.type(description="One logged metric of a model's run.")
class Metric:
    name: str = strawberry.field(description="Metric name, e.g. `log_loss`.")
    value: float = strawberry.field(description="Metric value.")


@strawberry.type(description="One logged parameter of a model's run.")
class Param:
    name: str = strawberry.field(description="Parameter name.")
    value: str = strawberry.field(description="Parameter value as logged.")


@strawberry.type(description="Registry metadata of the model behind a stage.")
class ModelInfo:
    name: str = strawberry.field(description="Registered model name.")
    version: str = strawberry.field(description="Registered version behind the alias.")
    stage: ModelStage = strawberry.field(description="The alias asked for.")
    run_id: str = strawberry.field(description="MLflow run that produced the version.")
    metrics: list[Metric] = strawberry.field(
        description="The run's metrics.", directives=[ListSize(assumed_size=50)]
    )
    params: list[Param] = strawberry.field(
        description="The run's parameters.", directives=[ListSize(assumed_size=50)]
    )
    created_at: IsoDateTime | None = strawberry.field(description="When the version was made.")


@strawberry.type(description="A job run by a worker: a live prediction, model info, an ingestion.")
class Task:
    id: strawberry.ID = strawberry.field(description="Task id; `task(id:)` reads it again.")
    kind: str = strawberry.field(
        description="Job function: predict_match, predict_features, model_info, "
        "ingest_livescores, ingest_fonbet_odds or batch_inference."
    )
    status: TaskStatus = strawberry.field(description="Where the task stands.")
    match_id: int | None = strawberry.field(description="Match of a predict_match task.")
    stage: ModelStage | None = strawberry.field(description="Model stage of a prediction task.")
    result: LivePrediction | None = strawberry.field(
        description="Set when a predict_match / predict_features task is COMPLETE."
    )
    ingest_result: IngestResult | None = strawberry.field(
        description="Set when an ingest_livescores / ingest_fonbet_odds task is COMPLETE."
    )
    error: str | None = strawberry.field(
        description="Why it FAILED, or what may have become of a NOT_FOUND task: for people."
    )
    enqueued_at: IsoDateTime | None = strawberry.field(description="When it was submitted.")
    started_at: IsoDateTime | None = strawberry.field(description="When a worker started it.")
    finished_at: IsoDateTime | None = strawberry.field(description="When it ended.")


@strawberry.type(description="Jobs waiting and running, counted from the queue's keys.")
class QueueStats:
    queued: int = strawberry.field(description="Due jobs no worker has started yet.")
    in_progress: int = strawberry.field(description="Jobs a worker is running now.")
    scheduled: int = strawberry.field(description="Jobs deferred to a later time.")


@strawberry.type(
    description="An arq worker, from its own heartbeat key (a worker that stops heartbeating "
    "stays listed, not alive, for 10 minutes; one stopped cleanly is gone at once)."
)
class Worker:
    name: str = strawberry.field(description="Host and process id.")
    queue: str = strawberry.field(description="The queue it consumes.")
    alive: bool = strawberry.field(description="Its heartbeat is recent.")
    last_heartbeat: IsoDateTime | None = strawberry.field(description="Last heartbeat.")
    jobs_complete: int | None = strawberry.field(description="Jobs completed since it started.")
    jobs_failed: int | None = strawberry.field(description="Jobs failed since it started.")
    jobs_ongoing: int | None = strawberry.field(description="Jobs running now.")
    live_predictions: int | None = strawberry.field(
        description="Live predictions made since it started (short queue only; null on others)."
    )
    model_calls: int | None = strawberry.field(
        description=(
            "Model calls those predictions took: predictions that run at the same time share "
            "one call, so livePredictions / modelCalls is the mean batch size (short queue only)."
        )
    )
    live_model_threads: int | None = strawberry.field(
        description=(
            "OpenMP threads one live prediction's model call uses, measured on the thread that "
            "makes it (MATCHGRAPH_WORKER_MODEL_THREADS; null when no OpenMP runtime is loaded)."
        )
    )
    batch_model_threads: int | None = strawberry.field(
        description=(
            "OpenMP threads batch inference's model call uses, measured in the worker thread "
            "it runs in (every core unless OMP_NUM_THREADS says otherwise)."
        )
    )


def _iso(value: datetime | None) -> IsoDateTime | None:
    return IsoDateTime(value.isoformat()) if value is not None else None


def _stage(value: Any) -> ModelStage | None:
    try:
        return ModelStage(value)
    except ValueError:
        return None


def live_prediction(result: results.PredictionResult) -> LivePrediction:
    outcome = OUTCOMES[result.predicted_class]
    assert outcome is not None  # 0, 1 or 2: argmax over three probabilities
    return LivePrediction(
        match_id=result.match_id,
        proba_home=result.proba_home,
        proba_draw=result.proba_draw,
        proba_away=result.proba_away,
        predicted_class=result.predicted_class,
        predicted_outcome=outcome,
        model_name=result.model_name,
        model_version=result.model_version,
        model_stage=ModelStage(result.model_stage),
        model_run_id=result.model_run_id,
        features_computed_at=_iso(result.features_computed_at),
        predicted_at=IsoDateTime(result.predicted_at.isoformat()),
    )


def task_from_state(state: TaskState) -> Task:
    output = state.output
    return Task(
        id=strawberry.ID(state.id),
        kind=state.kind,
        status=state.status,
        match_id=state.kwargs.get("match_id"),
        stage=_stage(state.kwargs.get("stage")),
        result=live_prediction(output) if isinstance(output, results.PredictionResult) else None,
        ingest_result=(
            ingest_result_of(output) if isinstance(output, results.IngestResult) else None
        ),
        error=state.error,
        enqueued_at=_iso(state.enqueued_at),
        started_at=_iso(state.started_at),
        finished_at=_iso(state.finished_at),
    )


def model_info_from(result: results.ModelInfoResult) -> ModelInfo:
    return ModelInfo(
        name=result.name,
        version=result.version,
        stage=ModelStage(result.stage),
        run_id=result.run_id,
        metrics=[Metric(name=k, value=float(v)) for k, v in result.metrics.items()],
        params=[Param(name=k, value=str(v)) for k, v in result.params.items()],
        created_at=_iso(result.created_at),
    )


def worker_from(info: WorkerInfo) -> Worker:
    return Worker(
        name=info.name,
        queue=info.queue,
        alive=info.alive,
        last_heartbeat=_iso(info.last_heartbeat),
        jobs_complete=info.jobs_complete,
        jobs_failed=info.jobs_failed,
        jobs_ongoing=info.jobs_ongoing,
        live_predictions=info.predictions,
        model_calls=info.model_calls,
        live_model_threads=info.live_threads,
        batch_model_threads=info.batch_threads,
    )
