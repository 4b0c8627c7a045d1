"""What a worker process builds once at start-up and every job shares."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graph.settings import Settings
from graph.sources.factory import build_storage
from graph.sources.livescores import LiveScoreRepository
from graph.sources.snapshots import Sources
from graph.sources.storage import Storage
from jobs.batcher import RowBatcher
from jobs.errors import JobError
from jobs.registry import ModelRegistry, ServedModel
from jobs.threads import ModelThreads

log = logging.getLogger(__name__)


@dataclass
class WorkerResources:
    settings: Settings
    storage: Storage
    sources: Sources
    registry: ModelRegistry
    models: dict[str, ServedModel] = field(default_factory=dict)
    batchers: dict[str, RowBatcher] = field(default_factory=dict)
    livescores: LiveScoreRepository | None = None
    threads: ModelThreads | None = None  # measured once the models are loaded

    def add_model(self, model: ServedModel) -> None:
        self.models[model.stage] = model
        window = self.settings.worker_batch_window
        self.batchers[model.stage] = RowBatcher(model.predict_rows, window=window)

    def batch_while(self, busy: Callable[[], bool]) -> None:
        """Let predictions wait for company while `busy()` (the short worker has other jobs)."""
        for batcher in self.batchers.values():
            batcher.busy = busy

    def model(self, stage: str) -> ServedModel:
        try:
            return self.models[stage]
        except KeyError:
            loaded = ", ".join(sorted(self.models)) or "none"
            raise JobError(
                f"no {stage} model is loaded on this worker (loaded: {loaded})"
            ) from None

    async def predict(self, stage: str, values: dict[str, float]) -> tuple[ServedModel, np.ndarray]:
        """The `stage` model and its probabilities for one feature mapping.

        Concurrent jobs share one model call (see `jobs.batcher`).
        """
        model = self.model(stage)
        return model, await self.batchers[stage].predict(model.row(values))

    def prediction_counts(self) -> tuple[int, int]:
        """(rows predicted, model calls they took) since the process started."""
        batchers = self.batchers.values()
        return sum(b.rows for b in batchers), sum(b.calls for b in batchers)

    async def close(self) -> None:
        await self.storage.close()


def build_resources(settings: Settings) -> WorkerResources:
    """Storage, snapshot tables (the API's own code) and every configured stage's model."""
    storage = build_storage(settings)
    registry = ModelRegistry(settings)
    resources = WorkerResources(
        settings=settings,
        storage=storage,
        sources=Sources(storage, refresh_seconds=settings.refresh_seconds),
        registry=registry,
    )
    for stage in settings.mlflow_model_stages:
        model = registry.load(stage)
        if model is None:
            log.warning("no model carries the alias %r: %s jobs will fail", stage, stage)
            continue
        resources.add_model(model)
        log.info("loaded %s v%s as %s (run %s)", model.name, model.version, stage, model.run_id)
    return resources


def resources_of(ctx: dict[str, Any]) -> WorkerResources:
    resources: WorkerResources = ctx["resources"]
    return resources
