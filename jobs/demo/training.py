"""Train and register the champion and challenger, unless this seed's models exist."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from jobs.demo.features import MODEL_COLUMNS
from jobs.demo.models import (
    CHALLENGER,
    CHAMPION,
    Candidate,
    Split,
    candidates,
    evaluate,
    labels,
    model_inputs,
)
from jobs.demo.registry import TAG_PREFIX, RegisteredModel, Registry
from jobs.registry import TRAINED_UNTIL_PARAM

# Bump when the generator's output changes, so models trained on older data are not reused.
DEMO_VERSION = "1"

Wrap = Callable[[Iterable[Candidate]], Iterable[Candidate]]


@dataclass(frozen=True, slots=True)
class TrainedModels:
    """The versions behind both aliases; `reused` when nothing was trained."""

    champion: RegisteredModel
    challenger: RegisteredModel
    reused: bool


def run_tags(*, seed: int, matches: int) -> dict[str, str]:
    """What identifies the data a demo model was trained on."""
    return {
        f"{TAG_PREFIX}seed": str(seed),
        f"{TAG_PREFIX}matches": str(matches),
        f"{TAG_PREFIX}version": DEMO_VERSION,
    }


def train_or_reuse(
    registry: Registry,
    catalog: pd.DataFrame,
    split: Split,
    *,
    seed: int,
    matches: int,
    wrap: Wrap | None = None,
) -> TrainedModels:
    """Reuse the aliased versions when both were trained on this data; else train both."""
    tags = run_tags(seed=seed, matches=matches)
    reused = _reusable(registry, tags)
    if reused is not None:
        return TrainedModels(*reused, reused=True)
    train, valid = catalog[split.train], catalog[split.valid]
    x_train, y_train = model_inputs(train), labels(train)
    params: dict[str, str | int | float] = {
        "seed": seed,
        "matches": matches,
        "cutoff": split.cutoff.isoformat(),
        # Trained on finished matches that started before the cutoff: its window ends there.
        TRAINED_UNTIL_PARAM: split.cutoff.tz_convert("UTC").isoformat(),
        "train_rows": len(train),
        "valid_rows": len(valid),
        "features": ",".join(MODEL_COLUMNS),
    }
    registered = []
    for candidate in (wrap or iter)(candidates(seed)):
        model = candidate.estimator.fit(x_train, y_train)
        metrics = evaluate(model.predict_proba(model_inputs(valid)), labels(valid))
        example = x_train.dropna().head(5)
        registered.append(
            registry.register(
                candidate, model, metrics=metrics, params=params, tags=tags, example=example
            )
        )
    # Aliases move only once both versions exist: a failed run leaves the old pair in place.
    for model in registered:
        registry.set_alias(model)
    champion, challenger = registered
    return TrainedModels(champion, challenger, reused=False)


def _reusable(
    registry: Registry, tags: dict[str, str]
) -> tuple[RegisteredModel, RegisteredModel] | None:
    pair = registry.find(CHAMPION), registry.find(CHALLENGER)
    for model in pair:
        # A run from before the training window was logged cannot label its predictions.
        if model is None or model.trained_until is None:
            return None
        run_tags = registry.tags(model.run_id)
        if any(run_tags.get(key) != value for key, value in tags.items()):
            return None
    champion, challenger = pair
    assert champion is not None and challenger is not None  # checked above; for mypy
    return champion, challenger
