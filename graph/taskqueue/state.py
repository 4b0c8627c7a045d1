"""Task state as clients see it, read from arq's keys."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from arq.connections import ArqRedis

from graph.taskqueue.arq_internals import (
    ENQUEUED_MS,
    FINISHED_MS,
    FUNCTION,
    KWARGS,
    RESULT,
    STARTED_MS,
    SUCCESS,
    in_progress_key,
    job_key,
    result_key,
)
from graph.taskqueue.names import RedisNames
from graph.taskqueue.results import JobResult, decode_result
from graph.taskqueue.serializer import loads


class TaskStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    NOT_FOUND = "NOT_FOUND"


TERMINAL = frozenset({TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.NOT_FOUND})
UNKNOWN = (
    "no such task: never submitted, its result expired (kept an hour), "
    "or Redis lost it (restarted without its data)"
)


@dataclass(frozen=True)
class TaskState:
    """One reading of a task."""

    id: str
    kind: str
    status: TaskStatus
    kwargs: dict[str, Any] = field(default_factory=dict)
    result: Any = None  # what the job stored (plain JSON values); `output` decodes it
    error: str | None = None
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def output(self) -> JobResult | None:
        """The typed record the job produced (None until it completes, or for other jobs)."""
        return decode_result(self.kind, self.result)

    def apply(self, news: dict[str, Any] | None) -> TaskState | None:
        """This state after a task event, when the event alone tells it (else None: read).

        Only a start is told in full (the event carries its time); an end must
        be read back, since arq's result record holds what it produced.
        """
        if news is None or news.get("status") != TaskStatus.IN_PROGRESS:
            return None
        if self.status is not TaskStatus.QUEUED or not isinstance(news.get("started"), int):
            return None
        return replace(self, status=TaskStatus.IN_PROGRESS, started_at=_ms(news["started"]))


async def read_state(redis: ArqRedis, job_id: str, names: RedisNames) -> TaskState:
    """The task's state from arq's result, in-progress and job keys and the namespace's
    start key (one round trip)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(result_key(job_id))
        pipe.exists(in_progress_key(job_id))
        pipe.get(job_key(job_id))
        pipe.get(names.task_started_key(job_id))
        result, in_progress, job, started = await pipe.execute()
    if result:
        return _finished(job_id, loads(result))
    if not job:
        return TaskState(id=job_id, kind="unknown", status=TaskStatus.NOT_FOUND, error=UNKNOWN)
    definition = loads(job)
    return TaskState(
        id=job_id,
        kind=definition[FUNCTION],
        status=TaskStatus.IN_PROGRESS if in_progress else TaskStatus.QUEUED,
        kwargs=definition.get(KWARGS) or {},
        enqueued_at=_ms(definition.get(ENQUEUED_MS)),
        started_at=_ms(int(started)) if in_progress and started else None,
    )


def _finished(job_id: str, data: dict[str, Any]) -> TaskState:
    success = bool(data.get(SUCCESS))
    value = data.get(RESULT)
    error = None if success else describe_failure(value)
    return TaskState(
        id=job_id,
        kind=data.get(FUNCTION, "unknown"),
        status=TaskStatus.COMPLETE if success else TaskStatus.FAILED,
        kwargs=data.get(KWARGS) or {},
        result=value if success else None,
        error=error,
        enqueued_at=_ms(data.get(ENQUEUED_MS)),
        started_at=_ms(data.get(STARTED_MS)),
        finished_at=_ms(data.get(FINISHED_MS)),
    )


def describe_failure(value: Any) -> str:
    """A message for people from what arq stored for a failed job."""
    if isinstance(value, dict) and "error" in value:
        kind, message = value["error"], value.get("message") or ""
        if kind == "JobError":  # raised on purpose: the message is for people already
            return str(message)
        if kind in {"TimeoutError", "CancelledError"}:
            return "the job took too long and was stopped"
        return f"{kind}: {message}" if message else str(kind)
    if isinstance(value, str):
        return value
    return "the job failed"


def _ms(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
