"""Long job: predict every catalogue match with the champion, replace predictions.parquet."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import numpy as np

from graph.sources.tables import CATALOG, PREDICTIONS, predictions_frame
from jobs.resources import WorkerResources, resources_of

BATCH_STAGE = "champion"


async def batch_inference(ctx: dict[str, Any]) -> dict[str, Any]:
    return await run_batch(resources_of(ctx))


async def run_batch(resources: WorkerResources) -> dict[str, Any]:
    """Write the new predictions atomically; the API serves them at its next refresh."""
    model = resources.model(BATCH_STAGE)
    frame = await resources.storage.get_dataframe(CATALOG.bucket, CATALOG.key)
    if "match_id" in frame.columns:
        frame = frame.set_index("match_id")
    inputs = frame.reindex(columns=list(model.columns)).astype(float)
    # In a thread: live predictions on this worker's event loop keep flowing meanwhile,
    # and the thread is not bound by the loop thread's one-thread OpenMP limit.
    proba = await asyncio.to_thread(model.predict_proba, inputs) if len(frame) else np.empty((0, 3))
    out = predictions_frame(
        frame, proba, run_id=model.run_id, stage=BATCH_STAGE, trained_until=model.trained_until
    )
    await resources.storage.put_dataframe(PREDICTIONS.bucket, PREDICTIONS.key, out)
    return {
        "rows": len(out),
        "model_version": model.version,
        "model_run_id": model.run_id,
        "written_at": datetime.now(UTC).isoformat(),
    }
