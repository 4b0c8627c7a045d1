"""Shared by the analytics tests: running operations in-process both ways, demo frames.

`run` executes an operation against Sources with the planner on or off (as
tests/test_planner.py does); `demo_frame` is the demo's files joined in plain
pandas, the independent side every figure is checked against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from strawberry.http import process_result

from graph.batching import Loaders
from graph.context import build_context
from graph.schema import build_schema
from graph.services import Services
from graph.settings import Settings
from graph.sources.snapshots import Sources

SCHEMAS: dict[bool, Any] = {}


def schema(planner: bool) -> Any:
    if planner not in SCHEMAS:
        SCHEMAS[planner] = build_schema(Settings(planner=planner))
    return SCHEMAS[planner]


async def run(
    sources: Sources,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    planner: bool = True,
) -> dict[str, Any]:
    """The JSON response of one operation (with `plans`: what the planner did)."""
    settings = Settings(planner=planner)
    context = await build_context(settings, sources, new_loaders=Loaders, services=Services())
    result = await schema(planner).execute(query, variable_values=variables, context_value=context)
    out: dict[str, Any] = orjson.loads(orjson.dumps(process_result(result)))
    out["plans"] = dict(context.loaders.plans)
    return out


async def both(
    sources: Sources, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The planned response, after checking it is byte for byte graphql-core's."""
    planned = await run(sources, query, variables, planner=True)
    reference = await run(sources, query, variables, planner=False)
    plans = planned.pop("plans")
    reference.pop("plans")
    assert orjson.dumps(planned) == orjson.dumps(reference)
    planned["plans"] = plans
    return planned


def data(response: dict[str, Any]) -> Any:
    assert "errors" not in response, response["errors"]
    return response["data"]


def error_codes(response: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in response.get("errors", [])]


def demo_frame(demo_dir: Path) -> pd.DataFrame:
    """Catalogue rows joined with predictions and odds, in start-time order (then id)."""
    root = demo_dir / "predictions"
    catalog = pd.read_parquet(root / "match_features.parquet")
    predictions = pd.read_parquet(root / "predictions.parquet")
    odds = pd.read_parquet(demo_dir / "data-raw" / "fonbet_odds.parquet")
    columns = ["startTimeUtc", "region", "is_future", "homeScore", "awayScore", "outcome_1x2"]
    frame = catalog[columns].join(
        predictions[["proba_home", "proba_draw", "proba_away", "model_trained_until"]]
    )
    frame = frame.join(odds[["odd_home", "odd_draw", "odd_away"]])
    return frame.reset_index().sort_values(["startTimeUtc", "match_id"]).set_index("match_id")


def reference_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Edges, best outcome and Kelly of every row that has a value, in plain pandas."""
    rows = frame.dropna(subset=["proba_home", "odd_home", "odd_draw", "odd_away"])
    rows = rows[(rows[["odd_home", "odd_draw", "odd_away"]] > 1).all(axis=1)].copy()
    for side in ("home", "draw", "away"):
        rows[f"edge_{side}"] = rows[f"proba_{side}"] * rows[f"odd_{side}"] - 1
    edges = rows[["edge_home", "edge_draw", "edge_away"]]
    rows["best"] = edges.idxmax(axis=1).str.removeprefix("edge_").str.upper()
    rows["best_edge"] = edges.max(axis=1)
    best_odd = np.choose(
        edges.to_numpy().argmax(axis=1), rows[["odd_home", "odd_draw", "odd_away"]].to_numpy().T
    )
    rows["kelly"] = np.where(rows["best_edge"] > 0, rows["best_edge"] / (best_odd - 1), 0.0)
    return rows


def counted(frame: pd.DataFrame, *, include_training: bool = False) -> pd.DataFrame:
    """The matches calibration and backtests count, selected in plain pandas."""
    rows = frame[frame["homeScore"].notna() & frame["awayScore"].notna()]
    rows = rows[rows["proba_home"].notna()]
    if not include_training:
        rows = rows[rows["model_trained_until"].notna()]
        rows = rows[rows["startTimeUtc"] >= rows["model_trained_until"]]
    return rows


def assert_close(got: Any, want: Any, *, abs_tol: float = 1e-12) -> None:
    """`got` equals `want` (nested dicts and lists), floats to 1e-9 relative."""
    if isinstance(want, dict):
        assert set(got) == set(want)
        for key in want:
            assert_close(got[key], want[key], abs_tol=abs_tol)
    elif isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_close(g, w, abs_tol=abs_tol)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=abs_tol)
    else:
        assert got == want
