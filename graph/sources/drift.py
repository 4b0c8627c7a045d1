"""reports/drift/latest.json: the pipeline's data-drift verdict, as an immutable value.

The file (DATA.md) holds `computed_at`, `dataset_drift` (required),
`share_drifted`, `drifted_features` and per-feature statistics under
`features` (`{name: {statistic, p_value, drifted, reference_mean,
current_mean}}`). Values of the wrong type make the file invalid, so the
last good verdict stays in service and the problem shows in /ready.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graph.sources.errors import InvalidSource

REQUIRED = frozenset({"dataset_drift"})


@dataclass(frozen=True, slots=True)
class FeatureDriftStats:
    """One feature's test result, as far as the file gives it."""

    name: str
    drifted: bool
    statistic: float | None
    p_value: float | None
    reference_mean: float | None
    current_mean: float | None


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The data-set verdict and its per-feature details."""

    dataset_drift: bool
    computed_at: datetime | None
    share_drifted: float | None
    drifted_features: tuple[str, ...]
    features: tuple[FeatureDriftStats, ...]
    method: str | None
    p_threshold: float | None
    reference_rows: int | None
    current_rows: int | None


def build_drift(doc: Mapping[str, Any]) -> DriftReport:
    """Validate the decoded document and build the report (InvalidSource when wrong)."""
    features = _features(doc.get("features"))
    drifted = doc.get("drifted_features")
    if drifted is None:  # older files: derive the list from the per-feature flags
        drifted_names = tuple(f.name for f in features if f.drifted)
    else:
        drifted_names = tuple(_strings(drifted, "drifted_features"))
    return DriftReport(
        dataset_drift=_bool(doc["dataset_drift"], "dataset_drift"),
        computed_at=_datetime(doc.get("computed_at")),
        share_drifted=_number(doc.get("share_drifted"), "share_drifted"),
        drifted_features=drifted_names,
        features=features,
        method=_string(doc.get("method"), "method"),
        p_threshold=_number(doc.get("p_threshold"), "p_threshold"),
        reference_rows=_count(doc.get("reference_rows"), "reference_rows"),
        current_rows=_count(doc.get("current_rows"), "current_rows"),
    )


def _invalid(message: str) -> InvalidSource:
    return InvalidSource(message)  # the spec (tables.DRIFT) prefixes the file's name


def _features(value: Any) -> tuple[FeatureDriftStats, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise _invalid("`features` must be an object of per-feature statistics")
    found = []
    for name, stats in value.items():
        if not isinstance(stats, Mapping):
            raise _invalid(f"`features.{name}` must be an object")
        where = f"features.{name}"
        found.append(
            FeatureDriftStats(
                name=str(name),
                drifted=_bool(stats.get("drifted", False), f"{where}.drifted"),
                statistic=_number(stats.get("statistic"), f"{where}.statistic"),
                p_value=_number(stats.get("p_value"), f"{where}.p_value"),
                reference_mean=_number(stats.get("reference_mean"), f"{where}.reference_mean"),
                current_mean=_number(stats.get("current_mean"), f"{where}.current_mean"),
            )
        )
    return tuple(found)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(f"`{where}` must be true or false, not {type(value).__name__}")
    return value


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"`{where}` must be a number, not {type(value).__name__}")
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise _invalid(f"`{where}` must be a non-negative integer")
    return value


def _string(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"`{where}` must be a string, not {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"`{where}` must be a list of strings")
    return value


def _datetime(value: Any) -> datetime | None:
    """ISO-8601; a value without an offset is taken as UTC (the pipeline's convention)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid("`computed_at` must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _invalid(f"`computed_at` is not an ISO-8601 date-time: {value[:40]!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
