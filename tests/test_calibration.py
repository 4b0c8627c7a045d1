"""`calibration`: every figure against plain pandas, the out-of-sample rule, bad arguments,
and the shared cache (one computation per data version and argument set)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from graph.analytics.cache import RESULTS
from graph.settings import Settings
from graph.sources.snapshots import Sources
from tests import snapshot_data
from tests.analytics_support import assert_close, counted, data, error_codes, run

QUERY = """query Calibration($region: String, $from: DateTime, $to: DateTime,
                          $includeTraining: Boolean, $bins: Int) {
  calibration(region: $region, from: $from, to: $to, includeTraining: $includeTraining,
              bins: $bins) {
    matches brierScore logLoss accuracy bins { lower upper count meanPredicted observedRate }
  }
}"""
PROBA = ["proba_home", "proba_draw", "proba_away"]


def reference(rows: pd.DataFrame, bins: int) -> dict[str, Any]:
    """The calibration of `rows`, computed in plain pandas."""
    proba = rows[PROBA].to_numpy()
    outcome = rows["outcome_1x2"].astype(int).to_numpy()
    onehot = pd.get_dummies(pd.Categorical(outcome, categories=[0, 1, 2])).to_numpy(float)
    pairs = pd.DataFrame({"p": proba.ravel(), "y": onehot.ravel()})
    edges = [i / bins for i in range(bins + 1)]
    pairs["bin"] = pd.cut(pairs["p"], edges, right=False, labels=False)
    pairs.loc[pairs["p"] == 1.0, "bin"] = bins - 1
    grouped = pairs.groupby("bin")
    table = pd.DataFrame(
        {"count": grouped.size(), "mean": grouped["p"].mean(), "rate": grouped["y"].mean()}
    ).reindex(range(bins))
    table["count"] = table["count"].fillna(0).astype(int)
    n = len(rows)
    return {
        "matches": n,
        "brierScore": float(((proba - onehot) ** 2).sum(axis=1).mean()) if n else None,
        "logLoss": float(-np.log(np.clip(proba[onehot == 1], 1e-15, 1)).mean()) if n else None,
        "accuracy": float((proba.argmax(axis=1) == outcome).mean()) if n else None,
        "bins": [
            {
                "lower": edges[i],
                "upper": edges[i + 1],
                "count": int(table.loc[i, "count"]),
                "meanPredicted": None if pd.isna(table.loc[i, "mean"]) else table.loc[i, "mean"],
                "observedRate": None if pd.isna(table.loc[i, "rate"]) else table.loc[i, "rate"],
            }
            for i in range(bins)
        ],
    }


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"bins": 7},
        {"bins": 2, "includeTraining": True},
        {"bins": 50, "region": "ENGLAND"},
        {"from": "2026-02-01T00:00:00+02:00", "to": "2026-03-01T00:00:00+00:00"},
        {"includeTraining": True, "to": "2025-09-01T00:00:00+00:00"},
    ],
)
async def test_calibration_equals_pandas_on_the_demo(
    demo_sources: Sources, demo_table: pd.DataFrame, variables: dict[str, Any]
) -> None:
    rows = counted(demo_table, include_training=variables.get("includeTraining", False))
    if "region" in variables:
        rows = rows[rows["region"].str.casefold() == variables["region"].casefold()]
    if "from" in variables:
        rows = rows[rows["startTimeUtc"] >= pd.Timestamp(variables["from"])]
    if "to" in variables:
        rows = rows[rows["startTimeUtc"] < pd.Timestamp(variables["to"])]
    got = data(await run(demo_sources, QUERY, variables))["calibration"]
    want = reference(rows, variables.get("bins", 10))
    assert got["matches"] > 0
    assert_close(got, want)
    assert sum(b["count"] for b in got["bins"]) == 3 * got["matches"]
    assert 0 <= got["brierScore"] <= 2


async def test_out_of_sample_is_the_default_and_smaller(
    demo_sources: Sources, demo_table: pd.DataFrame
) -> None:
    outside = data(await run(demo_sources, QUERY))["calibration"]["matches"]
    everything = data(await run(demo_sources, QUERY, {"includeTraining": True}))
    finished = demo_table["homeScore"].notna() & demo_table["proba_home"].notna()
    assert everything["calibration"]["matches"] == int(finished.sum())
    assert 0 < outside < int(finished.sum())


def test_the_demo_writes_the_registry_runs_training_window(
    demo_dir: Path, demo_settings: Settings, demo_summary: Any
) -> None:
    from mlflow import MlflowClient

    uri = demo_settings.effective_mlflow_uri
    run_params = MlflowClient(tracking_uri=uri).get_run(demo_summary.champion_run_id).data.params
    predictions = pd.read_parquet(demo_dir / "predictions" / "predictions.parquet")
    [window] = predictions["model_trained_until"].unique()
    assert window == pd.Timestamp(run_params["trained_until"])
    assert str(predictions["model_trained_until"].dtype) == "datetime64[ns, UTC]"
    # The champion trained on finished matches before it, so every match from it is out of
    # sample: what the pipeline validated and bet on (roi_by_region.csv).
    catalog = pd.read_parquet(demo_dir / "predictions" / "match_features.parquet")
    trained_rows = int(run_params["train_rows"])
    assert int(((catalog["startTimeUtc"] < window) & ~catalog["is_future"]).sum()) == trained_rows


async def test_with_no_match_the_scores_are_null(demo_sources: Sources) -> None:
    got = data(await run(demo_sources, QUERY, {"region": "Nowhere", "bins": 4}))["calibration"]
    assert got == {
        "matches": 0,
        "brierScore": None,
        "logLoss": None,
        "accuracy": None,
        "bins": [
            {"lower": i / 4, "upper": (i + 1) / 4, "count": 0, "meanPredicted": None,
             "observedRate": None}
            for i in range(4)
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    "variables",
    [
        {"bins": 1},
        {"bins": 51},
        {"bins": -3},
        {"from": "2026-01-01T00:00:00+00:00", "to": "2026-01-01T00:00:00+00:00"},
        {"from": "2026-02-01T00:00:00+00:00", "to": "2026-01-01T00:00:00+00:00"},
    ],
)
async def test_bad_arguments_are_bad_user_input(
    demo_sources: Sources, variables: dict[str, Any]
) -> None:
    answer = await run(demo_sources, QUERY, variables)
    assert answer["data"] is None  # calibration is non-null
    assert error_codes(answer) == ["BAD_USER_INPUT"]


async def test_without_a_training_window_only_include_training_counts(
    small_data_dir: Path,
) -> None:
    """The hand-made files predate `model_trained_until`: nothing is shown out of sample."""
    sources, _ = await snapshot_data.load(small_data_dir)
    default = data(await run(sources, QUERY))["calibration"]
    everything = data(await run(sources, QUERY, {"includeTraining": True}))["calibration"]
    assert default["matches"] == 0 and default["brierScore"] is None
    # 10 is the only finished match with a prediction: (0.5, 0.3, 0.2), a home win.
    assert everything["matches"] == 1
    assert everything["brierScore"] == pytest.approx(0.5**2 + 0.3**2 + 0.2**2)
    assert everything["logLoss"] == pytest.approx(-math.log(0.5))
    assert everything["accuracy"] == 1.0


async def test_identical_requests_share_one_computation(demo_sources: Sources) -> None:
    variables = {"bins": 13, "region": "Spain"}
    before = RESULTS.computed
    answers = await asyncio.gather(*(run(demo_sources, QUERY, variables) for _ in range(5)))
    assert RESULTS.computed == before + 1  # concurrent: one computation, awaited by all
    await run(demo_sources, QUERY, variables)
    assert RESULTS.computed == before + 1  # later: from the cache
    assert len({str(a["data"]) for a in answers}) == 1
    await run(demo_sources, QUERY, {**variables, "bins": 12})
    assert RESULTS.computed == before + 2  # another argument set: another computation
