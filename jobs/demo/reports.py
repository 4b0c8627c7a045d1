"""The Evidently-style HTML reports: data drift and model quality."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from graph.sources.tables import LABELS
from jobs.demo.html import badge, histogram, page, table
from jobs.demo.registry import RegisteredModel


def data_drift_html(
    drift: Mapping[str, Any], reference: pd.DataFrame, current: pd.DataFrame
) -> str:
    """Per-feature KS results with reference (grey) and current (red) distributions."""
    rows = []
    for name, stats in drift["features"].items():
        shape = histogram(reference[name].dropna().to_numpy(), current[name].dropna().to_numpy())
        rows.append(
            [
                name,
                stats["reference_mean"],
                stats["current_mean"],
                stats["statistic"],
                stats["p_value"],
                badge(not stats["drifted"], "stable", "drifted"),
                shape,
            ]
        )
    verdict = badge(not drift["dataset_drift"], "no data-set drift", "data-set drift")
    summary = (
        f"<p>{verdict}: {len(drift['drifted_features'])} of {len(rows)} features drifted "
        f"(share {drift['share_drifted']:.2f}; KS p &lt; {drift['p_threshold']}).</p>"
    )
    headers = [
        "feature",
        "reference mean",
        "current mean",
        "KS statistic",
        "p-value",
        "verdict",
        "shape (grey: reference, red: current)",
    ]
    meta = (
        f"Computed {drift['computed_at']}; reference: training window "
        f"({drift['reference_rows']} matches); current: latest window ({drift['current_rows']})."
    )
    return page("Data drift", meta, summary + table(headers, rows))


def model_quality_html(
    models: Mapping[str, RegisteredModel],
    valid: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    computed_at: str,
) -> str:
    """Validation metrics of both aliases, and the champion's confusion matrix."""
    metric_rows = [
        [role, model.version, *(model.metrics.get(k) for k in ("log_loss", "accuracy", "brier"))]
        for role, model in models.items()
    ]
    actual = valid["outcome_1x2"].to_numpy().astype(np.int64)
    predicted = predictions.loc[valid.index, "predicted_class"].to_numpy()
    matrix = np.zeros((3, 3), dtype=np.int64)
    np.add.at(matrix, (actual, predicted), 1)
    confusion = [[f"actual {LABELS[i]}", *matrix[i].tolist()] for i in range(3)]
    body = (
        "<h2>Validation metrics</h2>"
        + table(["alias", "version", "log loss", "accuracy", "Brier"], metric_rows)
        + "<h2>Champion confusion matrix (validation window)</h2>"
        + table(["", *(f"predicted {label}" for label in LABELS)], confusion)
    )
    meta = f"Computed {computed_at}; {len(valid)} finished matches after the training cut-off."
    return page("Model quality", meta, body)
