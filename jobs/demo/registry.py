"""The MLflow side of the demo: experiment, runs, registered versions and aliases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from graph.settings import Settings
from jobs.demo.models import Candidate
from jobs.registry import parse_trained_until, use_registry

EXPERIMENT = "matchgraph-demo"
TAG_PREFIX = "matchgraph.demo."
ROLE_TAG = f"{TAG_PREFIX}role"
_NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """One registered version behind an alias, and its run's validation metrics."""

    role: str
    version: str
    run_id: str
    metrics: dict[str, float]
    # End (exclusive) of the training window: the run's TRAINED_UNTIL_PARAM.
    trained_until: datetime | None = None


class Registry:
    """The registry the settings name; points this process's MLflow client at it."""

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.effective_mlflow_uri
        self.name = settings.mlflow_model_name
        self._artifacts: str | None = None
        if self.uri.startswith("sqlite:///"):  # local: create the folder, keep artifacts beside
            Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self._artifacts = settings.mlflow_artifact_root.as_uri()
        use_registry(self.uri)
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def find(self, role: str) -> RegisteredModel | None:
        """The version behind alias `role`, or None when there is none."""
        try:
            found = self.client.get_model_version_by_alias(self.name, role)
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND:
                return None
            raise
        if found.run_id is None:  # registered from outside a run: not one of ours
            return None
        run = self.client.get_run(found.run_id)
        return RegisteredModel(
            role,
            str(found.version),
            found.run_id,
            dict(run.data.metrics),
            parse_trained_until(dict(run.data.params)),
        )

    def tags(self, run_id: str) -> dict[str, str]:
        return dict(self.client.get_run(run_id).data.tags)

    def register(
        self,
        candidate: Candidate,
        model: Any,
        *,
        metrics: Mapping[str, float],
        params: Mapping[str, str | int | float],
        tags: Mapping[str, str],
        example: pd.DataFrame,
    ) -> RegisteredModel:
        """Log the fitted model with its params and metrics; register a new version."""
        run_tags = {**tags, ROLE_TAG: candidate.role}
        with mlflow.start_run(
            experiment_id=self._experiment_id(), run_name=f"demo-{candidate.role}", tags=run_tags
        ) as run:
            mlflow.log_params({**candidate.params, **params})
            mlflow.log_metrics(dict(metrics))
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(example, model.predict_proba(example)),
                input_example=example,
                registered_model_name=self.name,
                # Explicit requirements: inferring them re-imports the model in a subprocess.
                pip_requirements=[f"scikit-learn=={version('scikit-learn')}", _skops()],
                skops_trusted_types=list(candidate.trusted_types),
            )
        model_version = str(info.registered_model_version)
        trained_until = parse_trained_until({k: str(v) for k, v in params.items()})
        return RegisteredModel(
            candidate.role, model_version, run.info.run_id, dict(metrics), trained_until
        )

    def set_alias(self, model: RegisteredModel) -> None:
        self.client.set_registered_model_alias(self.name, model.role, model.version)

    def load(self, role: str) -> Any:
        """The scikit-learn model behind alias `role` (its predict_proba, not pyfunc labels)."""
        return mlflow.sklearn.load_model(f"models:/{self.name}@{role}")

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            return str(experiment.experiment_id)
        return str(self.client.create_experiment(EXPERIMENT, artifact_location=self._artifacts))


def _skops() -> str:
    return f"skops=={version('skops')}"
