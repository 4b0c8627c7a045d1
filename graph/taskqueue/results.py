"""What jobs produce, as typed records: shared by the worker, the CLI and the schema.

A job returns its record's `as_dict()` (plain JSON values: arq stores results
with our JSON serializer); `decode_result` reads a stored result back into its
record, the one place where a task's result is decoded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

PREDICTION_JOBS = frozenset({"predict_match", "predict_features"})
INGEST_JOBS = frozenset({"ingest_livescores", "ingest_fonbet_odds"})
MODEL_INFO_JOB = "model_info"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Counts of one run; `messages` are for people (reasons, unlinked events).

    `rejected` counts the records of a payload that failed validation (none of
    them is written); a payload that cannot be read at all counts as one.
    `unlinked` is set by feeds that link records to catalogue matches.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    unlinked: int | None = None
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (the job's stored result)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> IngestResult:
        return cls(**values)

    def summary(self) -> str:
        counts = (
            f"inserted {self.inserted}, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {self.rejected}"
        )
        return counts if self.unlinked is None else f"{counts}, unlinked {self.unlinked}"


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """One live prediction (predict_match, predict_features): 1X2 probabilities and the model."""

    match_id: int | None  # None for a what-if feature vector
    proba_home: float
    proba_draw: float
    proba_away: float
    predicted_class: int  # 0 home, 1 draw, 2 away
    predicted_label: str
    model_name: str
    model_version: str
    model_stage: str
    model_run_id: str
    features_computed_at: datetime | None  # when match_features.parquet was written
    predicted_at: datetime

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["features_computed_at"] = _iso(self.features_computed_at)
        values["predicted_at"] = self.predicted_at.isoformat()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PredictionResult:
        predicted_at = _time(values["predicted_at"])
        assert predicted_at is not None
        return cls(
            **{
                **values,
                "features_computed_at": _time(values["features_computed_at"]),
                "predicted_at": predicted_at,
            }
        )


@dataclass(frozen=True, slots=True)
class ModelInfoResult:
    """Registry metadata of the model version behind a stage (model_info)."""

    name: str
    version: str
    stage: str
    run_id: str
    metrics: dict[str, float]
    params: dict[str, str]
    created_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["created_at"] = _iso(self.created_at)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelInfoResult:
        return cls(**{**values, "created_at": _time(values.get("created_at"))})


JobResult: TypeAlias = PredictionResult | ModelInfoResult | IngestResult


def decode_result(kind: str, value: Any) -> JobResult | None:
    """The record a `kind` job stored as `value`; None when it stored none (or another shape)."""
    if not isinstance(value, dict):
        return None
    record: type[PredictionResult] | type[ModelInfoResult] | type[IngestResult]
    if kind in PREDICTION_JOBS:
        record = PredictionResult
    elif kind == MODEL_INFO_JOB:
        record = ModelInfoResult
    elif kind in INGEST_JOBS:
        record = IngestResult
    else:
        return None
    try:
        return record.from_dict(value)
    except (TypeError, KeyError, ValueError):
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
