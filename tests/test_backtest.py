"""`backtest`: against a plain replay, the pipeline's ROI file reproduced, bad arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from graph.sources.snapshots import Sources
from tests.analytics_support import (
    assert_close,
    counted,
    data,
    error_codes,
    reference_values,
    run,
)

QUERY = """query Backtest($minEdge: Float, $pick: Pick, $staking: Staking, $kellyFraction: Float,
                       $region: String, $from: DateTime, $to: DateTime,
                       $includeTraining: Boolean) {
  backtest(minEdge: $minEdge, pick: $pick, staking: $staking, kellyFraction: $kellyFraction,
           region: $region, from: $from, to: $to, includeTraining: $includeTraining) {
    bets won staked profit roi hitRate maxDrawdown
    byRegion { region bets won staked profit roi }
  }
}"""
# What reproduces roi_by_region.csv: the pipeline bets 1 unit on the predicted outcome when
# probability x odd > 1, on the finished matches after the champion's training window.
ROI_QUERY = (
    "{ backtest(pick: PREDICTED, minEdge: 1e-16) { byRegion { region bets won profit roi } } }"
)
OUTCOMES = ("HOME", "DRAW", "AWAY")


def replay(rows: pd.DataFrame, args: dict[str, Any]) -> dict[str, Any]:
    """The backtest, one bet at a time in plain Python."""
    bankroll, cumulative, peak, drawdown = 100.0, 0.0, 0.0, 0.0
    bets: list[dict[str, Any]] = []
    for _, row in rows.iterrows():
        if args.get("pick", "BEST_EDGE") == "BEST_EDGE":
            side = row["best"].lower()
        else:
            side = ("home", "draw", "away")[
                int(np.argmax(row[["proba_home", "proba_draw", "proba_away"]].to_numpy()))
            ]
        edge, odd = row[f"edge_{side}"], row[f"odd_{side}"]
        if edge < args.get("minEdge", 0.0):
            continue
        if args.get("staking", "FLAT") == "FLAT":
            stake = 1.0
        else:
            kelly = edge / (odd - 1) if edge > 0 else 0.0
            stake = min(args.get("kellyFraction", 1.0) * kelly, 1.0) * bankroll
            if stake <= 0:
                continue
        won = OUTCOMES[int(row["outcome_1x2"])].lower() == side
        profit = stake * (odd - 1) if won else -stake
        bankroll += profit
        cumulative += profit
        peak = max(peak, cumulative)
        drawdown = max(drawdown, peak - cumulative)
        bets.append({"region": row["region"], "won": won, "stake": stake, "profit": profit})
    table = pd.DataFrame(bets, columns=["region", "won", "stake", "profit"])
    staked, profit = float(table["stake"].sum()), float(table["profit"].sum())
    regions = table.groupby("region").agg(
        bets=("won", "size"), won=("won", "sum"), staked=("stake", "sum"), profit=("profit", "sum")
    )
    return {
        "bets": len(table),
        "won": int(table["won"].sum()),
        "staked": staked,
        "profit": profit,
        "roi": profit / staked if staked else None,
        "hitRate": float(table["won"].mean()) if len(table) else None,
        "maxDrawdown": drawdown,
        "byRegion": [
            {
                "region": region,
                "bets": int(r.bets),
                "won": int(r.won),
                "staked": float(r.staked),
                "profit": float(r.profit),
                "roi": float(r.profit / r.staked),
            }
            for region, r in sorted(regions.iterrows(), key=lambda item: item[0].casefold())
        ],
    }


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"minEdge": 0.05},
        {"minEdge": -0.1, "pick": "PREDICTED"},
        {"staking": "KELLY"},
        {"staking": "KELLY", "kellyFraction": 0.25, "minEdge": 0.02, "includeTraining": True},
        {"pick": "PREDICTED", "staking": "KELLY", "kellyFraction": 0.5},
        {"region": "spain", "includeTraining": True, "to": "2025-12-01T00:00:00+00:00"},
    ],
)
async def test_backtest_equals_a_plain_replay(
    demo_sources: Sources, demo_table: pd.DataFrame, args: dict[str, Any]
) -> None:
    rows = reference_values(
        counted(demo_table, include_training=args.get("includeTraining", False))
    )
    if "region" in args:
        rows = rows[rows["region"].str.casefold() == args["region"]]
    if "to" in args:
        rows = rows[rows["startTimeUtc"] < pd.Timestamp(args["to"])]
    got = data(await run(demo_sources, QUERY, args))["backtest"]
    want = replay(rows, args)
    assert got["bets"] > 0
    assert_close(got, want, abs_tol=1e-9)
    assert sum(r["bets"] for r in got["byRegion"]) == got["bets"]  # every demo match has one


async def test_predicted_picks_reproduce_the_pipelines_roi_file(
    demo_sources: Sources, demo_dir: Path
) -> None:
    roi = pd.read_csv(demo_dir / "predictions" / "analysis" / "live_betting" / "roi_by_region.csv")
    got = {r["region"]: r for r in data(await run(demo_sources, ROI_QUERY))["backtest"]["byRegion"]}
    assert set(got) == set(roi["region"])
    for row in roi.itertuples():
        mine = got[row.region]
        assert (mine["bets"], mine["won"]) == (row.n_bets, row.n_won), row.region
        assert round(mine["profit"], 2) == pytest.approx(row.profit, abs=1e-9), row.region
        assert round(mine["roi"], 4) == pytest.approx(row.roi, abs=1e-9), row.region
    # and what Region.roi serves is that file
    regions = data(await run(demo_sources, "{ regions { name roi { bets roi profit won } } }"))
    served = {r["name"]: r["roi"] for r in regions["regions"] if r["roi"]}
    assert {name: (r["bets"], r["won"]) for name, r in served.items()} == {
        name: (r["bets"], r["won"]) for name, r in got.items()
    }
    # minEdge 0 bets on an edge of exactly 0 too; none in the demo, so it agrees as well
    zero = ROI_QUERY.replace("1e-16", "0")
    assert data(await run(demo_sources, zero)) == data(await run(demo_sources, ROI_QUERY))


async def test_a_kelly_bankroll_never_stakes_more_than_it_holds(demo_sources: Sources) -> None:
    args = {"staking": "KELLY", "kellyFraction": 1.0, "minEdge": 0.0, "includeTraining": True}
    got = data(await run(demo_sources, QUERY, args))["backtest"]
    assert got["profit"] > -100.0  # the bankroll of 100 is never overdrawn
    assert got["maxDrawdown"] >= 0


@pytest.mark.parametrize(
    "args",
    [
        {"kellyFraction": 0.0},
        {"kellyFraction": 1.5},
        {"kellyFraction": -0.5, "staking": "KELLY"},
        {"from": "2026-01-02T00:00:00+00:00", "to": "2026-01-01T00:00:00+00:00"},
    ],
)
async def test_bad_arguments_are_bad_user_input(
    demo_sources: Sources, args: dict[str, Any]
) -> None:
    answer = await run(demo_sources, QUERY, args)
    assert answer["data"] is None
    assert error_codes(answer) == ["BAD_USER_INPUT"]


async def test_no_bets_is_zero_with_null_ratios(demo_sources: Sources) -> None:
    got = data(await run(demo_sources, QUERY, {"minEdge": 100.0}))["backtest"]
    assert got == {
        "bets": 0,
        "won": 0,
        "staked": 0.0,
        "profit": 0.0,
        "roi": None,
        "hitRate": None,
        "maxDrawdown": 0.0,
        "byRegion": [],
    }
