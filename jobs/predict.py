"""Short jobs: live predictions and model metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from graph.sources.tables import CATALOG, LABELS
from graph.taskqueue.results import ModelInfoResult, PredictionResult
from jobs.errors import JobError
from jobs.registry import ServedModel
from jobs.resources import resources_of


async def predict_match(ctx: dict[str, Any], match_id: int, stage: str) -> dict[str, Any]:
    """Predict one catalogue match from the worker's snapshot of match_features.parquet.

    Returns a PredictionResult's values (as `predict_features`).
    """
    resources = resources_of(ctx)
    resources.model(stage)  # fails before any work when the stage is not loaded
    data = await resources.sources.current()
    catalog = data.catalog
    position = int(catalog.positions([match_id])[0])
    if position < 0:
        raise JobError(f"match {match_id} has no features in {CATALOG.key}")
    row = dict(zip(catalog.feature_names, catalog.features[position].tolist(), strict=True))
    row["sex"] = 1.0 if catalog.columns["women"][position] else 0.0
    modified = data.modified_at("catalog")
    model, proba = await resources.predict(stage, row)
    return _prediction(model, proba, match_id=match_id, features_at=modified)


async def predict_features(
    ctx: dict[str, Any], features: dict[str, float], women: bool, stage: str
) -> dict[str, Any]:
    """What-if: predict a client-supplied feature vector (missing features are NaN)."""
    resources = resources_of(ctx)
    model = resources.model(stage)
    unknown = sorted(set(features) - set(model.columns) - {"sex"})
    if unknown:
        raise JobError(f"unknown feature name(s) for {model.name} v{model.version}: {unknown}")
    row = {**features, "sex": 1.0 if women else 0.0}
    model, proba = await resources.predict(stage, row)
    return _prediction(model, proba, match_id=None, features_at=None)


async def model_info(ctx: dict[str, Any], stage: str) -> dict[str, Any]:
    """Registry metadata of the model behind `stage` (a ModelInfoResult's values)."""
    info: ModelInfoResult | None = resources_of(ctx).registry.info(stage)
    if info is None:
        raise JobError(f"no model carries the alias {stage!r}")
    return info.as_dict()


def _prediction(
    model: ServedModel, proba: np.ndarray, *, match_id: int | None, features_at: datetime | None
) -> dict[str, Any]:
    predicted = int(np.argmax(proba))
    return PredictionResult(
        match_id=match_id,
        proba_home=float(proba[0]),
        proba_draw=float(proba[1]),
        proba_away=float(proba[2]),
        predicted_class=predicted,
        predicted_label=LABELS[predicted],
        model_name=model.name,
        model_version=model.version,
        model_stage=model.stage,
        model_run_id=model.run_id,
        features_computed_at=features_at,
        predicted_at=datetime.now(UTC),
    ).as_dict()
