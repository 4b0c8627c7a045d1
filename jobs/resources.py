"""What a worker process builds once at start-up and every job shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from graph.settings import Settings
from graph.sources.factory import build_storage
from graph.sources.livescores import LiveScoreRepository
from graph.sources.snapshots import Sources
from graph.sources.storage import Storage
from jobs.errors import JobError
from jobs.registry import ModelRegistry, ServedModel

log = logging.getLogger(__name__)


@dataclass
class WorkerResources:
    settings: Settings
    storage: Storage
    sources: Sources
    registry: ModelRegistry
    models: dict[str, ServedModel] = field(default_factory=dict)
    livescores: LiveScoreRepository | None = None

    def model(self, stage: str) -> ServedModel:
        try:
            return self.models[stage]
        except KeyError:
            loaded = ", ".join(sorted(self.models)) or "none"
            raise JobError(
                f"no {stage} model is loaded on this worker (loaded: {loaded})"
            ) from None

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
        resources.models[stage] = model
        log.info("loaded %s v%s as %s (run %s)", model.name, model.version, stage, model.run_id)
    return resources


def resources_of(ctx: dict[str, Any]) -> WorkerResources:
    resources: WorkerResources = ctx["resources"]
    return resources
