"""The two classifiers, the time-based split and the metrics they are judged by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from jobs.demo.features import MODEL_COLUMNS

CHAMPION, CHALLENGER = "champion", "challenger"
VALID_SHARE = 0.2  # the latest finished matches, never seen in training
CLASSES = np.array([0, 1, 2])


@dataclass(frozen=True, slots=True)
class Split:
    """Finished matches before `cutoff` train; finished matches from `cutoff` on validate."""

    cutoff: pd.Timestamp
    train: np.ndarray  # boolean masks over the catalogue's rows
    valid: np.ndarray


@dataclass(frozen=True, slots=True)
class Candidate:
    """An untrained model for one registry alias, and what MLflow needs to log it."""

    role: str
    estimator: Any  # a scikit-learn classifier with predict_proba
    params: dict[str, str | int | float]
    # skops refuses to load types outside its defaults unless the model lists them.
    trusted_types: tuple[str, ...]


def time_split(catalog: pd.DataFrame) -> Split:
    """Cut the finished matches at the start time that leaves VALID_SHARE after it."""
    finished = ~catalog["is_future"].to_numpy(dtype=bool)
    starts = catalog["startTimeUtc"]
    ordered = starts[finished].sort_values()
    cutoff = pd.Timestamp(ordered.iloc[int(len(ordered) * (1 - VALID_SHARE))])
    after = (starts >= cutoff).to_numpy()
    return Split(cutoff=cutoff, train=finished & ~after, valid=finished & after)


def model_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns, in the model's order, as floats."""
    return frame[list(MODEL_COLUMNS)].astype(np.float64)


def labels(frame: pd.DataFrame) -> np.ndarray:
    return frame["outcome_1x2"].to_numpy().astype(np.int64)


def candidates(seed: int) -> tuple[Candidate, Candidate]:
    """Champion: gradient boosting (NaN-aware). Challenger: imputed, scaled logistic regression."""
    hgb = {
        "learning_rate": 0.05,
        "max_iter": 300,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
        "early_stopping": True,
        "validation_fraction": 0.1,
        "n_iter_no_change": 20,
    }
    logistic = {"C": 0.5, "max_iter": 1000}
    challenger = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(**logistic)),
        ]
    )
    return (
        Candidate(
            CHAMPION,
            HistGradientBoostingClassifier(**hgb, random_state=seed),
            {"estimator": "HistGradientBoostingClassifier", **hgb},
            ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",),
        ),
        Candidate(
            CHALLENGER,
            challenger,
            {"estimator": "SimpleImputer+StandardScaler+LogisticRegression", **logistic},
            ("numpy.dtype",),
        ),
    )


def evaluate(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Validation metrics: multi-class log loss, accuracy and Brier score."""
    onehot = (y[:, None] == CLASSES[None, :]).astype(float)
    return {
        "log_loss": float(log_loss(y, proba, labels=CLASSES)),
        "accuracy": float(accuracy_score(y, proba.argmax(axis=1))),
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
    }
