"""Data drift: two-sample Kolmogorov-Smirnov per feature, recent window vs training."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

P_THRESHOLD = 0.05  # a feature drifts when KS rejects "same distribution" at this level
DATASET_SHARE = 0.5  # the data set drifts when at least this share of features does


def drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, *, computed_at: datetime
) -> dict[str, Any]:
    """reports/drift/latest.json: per-feature KS statistics and the data-set verdict."""
    features = {name: _feature(reference[name], current[name]) for name in reference.columns}
    drifted = [name for name, stats in features.items() if stats["drifted"]]
    share = len(drifted) / len(features) if features else 0.0
    return {
        "computed_at": computed_at.isoformat(),
        "dataset_drift": share >= DATASET_SHARE,
        "share_drifted": share,
        "drifted_features": drifted,
        "features": features,
        "method": "ks_2samp",
        "p_threshold": P_THRESHOLD,
        "reference_rows": len(reference),
        "current_rows": len(current),
    }


def _feature(reference: pd.Series, current: pd.Series) -> dict[str, Any]:
    ref, cur = reference.dropna().to_numpy(), current.dropna().to_numpy()
    if ref.size == 0 or cur.size == 0:
        return {
            "statistic": None,
            "p_value": None,
            "drifted": False,
            "reference_mean": _mean(ref),
            "current_mean": _mean(cur),
        }
    # Asymptotic p-values: exact ones are slow on large windows and warn when they fall back.
    result = ks_2samp(ref, cur, method="asymp")
    p_value = float(result.pvalue)
    return {
        "statistic": float(result.statistic),
        "p_value": p_value,
        "drifted": p_value < P_THRESHOLD,
        "reference_mean": _mean(ref),
        "current_mean": _mean(cur),
    }


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None
