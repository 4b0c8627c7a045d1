"""Models from the MLflow registry by alias: loaded once per worker process."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from graph.settings import Settings
from graph.taskqueue.results import ModelInfoResult

log = logging.getLogger(__name__)
_NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
# The run param holding the end (exclusive, ISO-8601 UTC) of the model's training window:
# predictions.parquet carries it per row (`model_trained_until`) for out-of-sample analytics.
TRAINED_UNTIL_PARAM = "trained_until"


@dataclass(frozen=True)
class ServedModel:
    """One registered version behind a stage alias, ready to predict."""

    name: str
    version: str
    stage: str
    run_id: str
    model: Any = field(repr=False)
    columns: tuple[str, ...]
    trained_until: datetime | None = None  # the run's TRAINED_UNTIL_PARAM, if it has one

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        """Probabilities (home, draw, away) for rows holding (some of) the model's columns."""
        frame = rows.reindex(columns=list(self.columns)).astype(float)
        proba: np.ndarray = self.model.predict_proba(frame)
        return proba

    def row(self, values: dict[str, float]) -> np.ndarray:
        """One feature mapping as a float row in the model's column order (absent: NaN)."""
        return np.array([values.get(c, np.nan) for c in self.columns], dtype=np.float64)

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities for a 2-D float array whose columns are `columns`, in that order.

        The hot path of live predictions (see `jobs.batcher`): building a
        DataFrame for a few rows costs more than the model itself (0.8 ms of
        1.9 ms for one row of the champion), so the worker passes arrays and
        silences scikit-learn's warning that they have no column names (see
        `quiet_feature_name_warning`).
        """
        proba: np.ndarray = self.model.predict_proba(rows)
        return proba


def use_registry(uri: str) -> None:
    """Point this process's MLflow fluent API (`mlflow.start_run`, `models:/` URIs) at `uri`.

    `mlflow.set_tracking_uri` also writes `MLFLOW_TRACKING_URI` into `os.environ`
    "so that subprocesses inherit it": after an in-process demo run, every process
    started later (a worker, a benchmark's demo generator) would read and write
    that registry instead of its own settings' one. We keep the process-wide
    setting and put the environment back as it was.
    """
    import mlflow

    before = os.environ.get(_TRACKING_URI_ENV)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if before is None:
        os.environ.pop(_TRACKING_URI_ENV, None)
    else:
        os.environ[_TRACKING_URI_ENV] = before


def parse_trained_until(params: dict[str, str]) -> datetime | None:
    """A run's training-window end (UTC), None when it does not record one (or not readably)."""
    text = params.get(TRAINED_UNTIL_PARAM)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        log.warning("ignoring unreadable %s param %r", TRAINED_UNTIL_PARAM, text[:100])
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def quiet_feature_name_warning() -> None:
    """For worker processes: `predict_rows` takes arrays in the fitted column order on purpose."""
    warnings.filterwarnings(
        "ignore", message="X does not have valid feature names", category=UserWarning
    )


class ModelRegistry:
    """Read-only view of the registry the settings name."""

    def __init__(self, settings: Settings) -> None:
        from mlflow import MlflowClient

        self.name = settings.mlflow_model_name
        uri = settings.effective_mlflow_uri
        # A client of its own, no `mlflow.set_tracking_uri`: see `use_registry`.
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def load(self, stage: str) -> ServedModel | None:
        """The model behind alias `stage`, None when nothing carries that alias."""
        import mlflow.sklearn

        version = self._version(stage)
        if version is None:
            return None
        # The artifacts' own location (file://, s3://...) needs no process-wide registry URI.
        location = self.client.get_model_version_download_uri(self.name, version.version)
        model = mlflow.sklearn.load_model(location)
        columns = tuple(str(c) for c in getattr(model, "feature_names_in_", ()))
        if not columns:
            raise RuntimeError(f"{self.name} v{version.version} does not name its input columns")
        if [int(c) for c in getattr(model, "classes_", [])] != [0, 1, 2]:
            raise RuntimeError(f"{self.name} v{version.version} is not a 1X2 classifier (0, 1, 2)")
        params = self.client.get_run(version.run_id).data.params
        return ServedModel(
            self.name,
            str(version.version),
            stage,
            str(version.run_id),
            model,
            columns,
            trained_until=parse_trained_until(params),
        )

    def info(self, stage: str) -> ModelInfoResult | None:
        """Registry metadata of the version behind `stage` (the model_info job's result)."""
        version = self._version(stage)
        if version is None:
            return None
        run = self.client.get_run(version.run_id)
        created = datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC)
        return ModelInfoResult(
            name=self.name,
            version=str(version.version),
            stage=stage,
            run_id=str(version.run_id),
            metrics=dict(sorted(run.data.metrics.items())),
            params=dict(sorted(run.data.params.items())),
            created_at=created,
        )

    def _version(self, stage: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(self.name, stage)
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND:
                return None
            raise
