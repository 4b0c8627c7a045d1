"""The demo pipeline writes DATA.md's files, registers real models, and does so reproducibly."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from graph.settings import Settings
from tests.fixtures.demo import DEMO_MATCHES, DEMO_SEED, demo_settings_for

CATALOG = Path("predictions/match_features.parquet")
PREDICTIONS = Path("predictions/predictions.parquet")
ODDS = Path("data-raw/fonbet_odds.parquet")
ROI = Path("predictions/analysis/live_betting/roi_by_region.csv")
DRIFT = Path("reports/drift/latest.json")
TABLES = (CATALOG, PREDICTIONS, ODDS)
FEATURE = re.compile(r"^diff_[a-z_]+_w5$")
PROBA = ["proba_home", "proba_draw", "proba_away"]


def _read(data_dir: Path, path: Path) -> pd.DataFrame:
    return (
        pd.read_parquet(data_dir / path)
        if path.suffix == ".parquet"
        else pd.read_csv(data_dir / path)
    )


@pytest.fixture(scope="module")
def catalog(demo_dir: Path) -> pd.DataFrame:
    return _read(demo_dir, CATALOG)


@pytest.fixture(scope="module")
def predictions(demo_dir: Path) -> pd.DataFrame:
    return _read(demo_dir, PREDICTIONS)


@pytest.fixture(scope="module")
def odds(demo_dir: Path) -> pd.DataFrame:
    return _read(demo_dir, ODDS)


@pytest.fixture(scope="module")
def reference_now() -> pd.Timestamp:
    from jobs.demo.world import reference_now

    return pd.Timestamp(reference_now(DEMO_SEED))


def _registry(settings: Settings) -> Any:
    from mlflow import MlflowClient

    uri = settings.effective_mlflow_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _version_count(settings: Settings) -> int:
    name = settings.mlflow_model_name
    return len(_registry(settings).search_model_versions(f"name = '{name}'"))


# --- the catalogue -------------------------------------------------------------------------


def test_catalog_has_the_contract_columns_and_dtypes(catalog: pd.DataFrame) -> None:
    assert catalog.index.name == "match_id"
    assert catalog.index.dtype == np.int64
    dtype = catalog["startTimeUtc"].dtype
    assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
    for name in ("homeTeamName", "awayTeamName", "region", "tournamentName"):
        assert pd.api.types.is_string_dtype(catalog[name]), name
    assert catalog["sex"].dtype == np.int64
    assert set(catalog["sex"].unique()) == {0, 1}
    assert catalog["is_future"].dtype == bool
    for name in ("homeScore", "awayScore", "outcome_1x2"):
        assert catalog[name].dtype == np.float64, name
    features = [c for c in catalog.columns if c.startswith("diff_")]
    assert 8 <= len(features) <= 12
    assert all(FEATURE.match(name) for name in features)
    assert all(catalog[name].dtype == np.float64 for name in features)


def test_catalog_ids_and_size(catalog: pd.DataFrame) -> None:
    assert len(catalog) == DEMO_MATCHES
    assert catalog.index.is_unique
    assert catalog.index.min() > 0 and catalog.index.max() < 2**31
    assert catalog["startTimeUtc"].is_monotonic_increasing


def test_upcoming_matches_are_in_the_future_and_unscored(
    catalog: pd.DataFrame, reference_now: pd.Timestamp
) -> None:
    upcoming = catalog[catalog["is_future"]]
    finished = catalog[~catalog["is_future"]]
    assert 0.05 <= len(upcoming) / len(catalog) <= 0.12
    assert upcoming[["homeScore", "awayScore", "outcome_1x2"]].isna().all().all()
    assert (upcoming["startTimeUtc"] > reference_now).all()
    assert (finished["startTimeUtc"] < reference_now).all()
    assert finished[["homeScore", "awayScore", "outcome_1x2"]].notna().all().all()
    expected = np.select(
        [
            finished["homeScore"] > finished["awayScore"],
            finished["homeScore"] == finished["awayScore"],
        ],
        [0, 1],
        2,
    )
    np.testing.assert_array_equal(finished["outcome_1x2"].to_numpy(), expected)


def test_world_has_regions_tournaments_and_unique_teams(catalog: pd.DataFrame) -> None:
    assert 25 <= catalog["region"].nunique() <= 35
    assert {"England", "Spain", "Italy", "Germany", "France", "Brazil"} <= set(catalog["region"])
    per_region = catalog.groupby("region")["tournamentName"].nunique()
    assert per_region.between(1, 3).all()
    assert "Premier League" in set(catalog["tournamentName"])
    sides = pd.concat(
        [
            catalog[["homeTeamName", "region", "tournamentName"]].set_axis(
                ["team", "r", "t"], axis=1
            ),
            catalog[["awayTeamName", "region", "tournamentName"]].set_axis(
                ["team", "r", "t"], axis=1
            ),
        ]
    ).drop_duplicates()
    # A name (case-insensitively) belongs to exactly one team: one region, one tournament.
    assert sides["team"].str.casefold().is_unique
    women = catalog[catalog["sex"] == 1]
    assert len(women) > 0 and (catalog["sex"] == 0).sum() > len(women)


def _brute_form(catalog: pd.DataFrame, team: str, before: pd.Timestamp) -> dict[str, float]:
    """The team's form from its last 5 finished matches strictly before `before`."""
    mine = (catalog["homeTeamName"] == team) | (catalog["awayTeamName"] == team)
    earlier = catalog[mine & ~catalog["is_future"] & (catalog["startTimeUtc"] < before)]
    last = earlier.sort_values("startTimeUtc").tail(5)
    if last.empty:
        return dict.fromkeys(_BRUTE_STATS, np.nan)
    home = (last["homeTeamName"] == team).to_numpy()
    scored = np.where(home, last["homeScore"], last["awayScore"])
    conceded = np.where(home, last["awayScore"], last["homeScore"])
    return {
        "goals_scored": scored.mean(),
        "goals_conceded": conceded.mean(),
        "goal_diff": (scored - conceded).mean(),
        "points": (3.0 * (scored > conceded) + (scored == conceded)).mean(),
        "win_rate": (scored > conceded).mean(),
        "draw_rate": (scored == conceded).mean(),
        "clean_sheet_rate": (conceded == 0).mean(),
        "failed_to_score_rate": (scored == 0).mean(),
    }


_BRUTE_STATS = (
    "goals_scored",
    "goals_conceded",
    "goal_diff",
    "points",
    "win_rate",
    "draw_rate",
    "clean_sheet_rate",
    "failed_to_score_rate",
)


def test_features_use_only_earlier_matches(catalog: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    teams = rng.choice(np.sort(catalog["homeTeamName"].unique()), size=6, replace=False)
    checked = 0
    for team in teams:
        games = catalog[(catalog["homeTeamName"] == team) | (catalog["awayTeamName"] == team)]
        # the first match (no history), early ones (short window), later and upcoming ones
        picks = sorted({0, 1, 3, len(games) // 2, len(games) - 2, len(games) - 1})
        for match_id, row in games.iloc[picks].iterrows():
            home = _brute_form(catalog, row["homeTeamName"], row["startTimeUtc"])
            away = _brute_form(catalog, row["awayTeamName"], row["startTimeUtc"])
            for stat in _BRUTE_STATS:
                got, want = row[f"diff_{stat}_w5"], home[stat] - away[stat]
                assert got == pytest.approx(want, nan_ok=True), (match_id, stat)
            checked += 1
    assert checked >= 30


def test_first_matches_have_no_features(catalog: pd.DataFrame) -> None:
    first = catalog.iloc[:20]
    features = [c for c in catalog.columns if c.startswith("diff_")]
    assert first[features].isna().all().all()
    assert catalog[features].notna().mean().min() > 0.9


# --- predictions and the registry ----------------------------------------------------------


def test_predictions_columns_and_values(
    predictions: pd.DataFrame, catalog: pd.DataFrame, demo_settings: Settings
) -> None:
    assert predictions.index.name == "match_id" and predictions.index.dtype == np.int64
    assert predictions.index.is_unique and predictions.index.max() < 2**31
    assert list(predictions.columns) == [
        *PROBA,
        "predicted_class",
        "predicted_label",
        "is_future",
        "startTimeUtc",
        "homeTeamName",
        "awayTeamName",
        "model_run_id",
        "model_stage",
        "model_trained_until",
    ]
    proba = predictions[PROBA].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert predictions["predicted_class"].dtype == np.int64
    np.testing.assert_array_equal(predictions["predicted_class"], proba.argmax(axis=1))
    labels = predictions["predicted_class"].map({0: "home", 1: "draw", 2: "away"})
    assert (predictions["predicted_label"] == labels).all()
    assert (predictions["model_stage"] == "champion").all()
    champion = _registry(demo_settings).get_model_version_by_alias(
        demo_settings.mlflow_model_name, "champion"
    )
    assert (predictions["model_run_id"] == champion.run_id).all()
    # The end of the champion's training window, as its run records it (the analytics'
    # out-of-sample rule reads it from here: the API never talks to MLflow).
    window = _registry(demo_settings).get_run(champion.run_id).data.params["trained_until"]
    assert (predictions["model_trained_until"] == pd.Timestamp(window)).all()
    assert catalog.index.isin(predictions.index).all()
    shared = predictions.loc[catalog.index]
    assert (shared["is_future"] == catalog["is_future"]).all()
    assert (shared["homeTeamName"] == catalog["homeTeamName"]).all()
    assert (shared["startTimeUtc"] == catalog["startTimeUtc"]).all()


def test_orphan_predictions_are_upcoming_fixtures_missing_from_the_catalog(
    predictions: pd.DataFrame, catalog: pd.DataFrame, demo_summary: Any
) -> None:
    orphans = predictions[~predictions.index.isin(catalog.index)]
    assert 3 <= len(orphans) <= 5
    assert demo_summary.orphan_predictions == len(orphans)
    assert orphans["is_future"].all()
    assert orphans[["homeTeamName", "awayTeamName", "startTimeUtc"]].notna().all().all()


def test_champion_from_the_registry_reproduces_the_predictions(
    demo_settings: Settings, catalog: pd.DataFrame, predictions: pd.DataFrame
) -> None:
    import mlflow.sklearn

    from jobs.registry import use_registry

    use_registry(demo_settings.effective_mlflow_uri)
    model = mlflow.sklearn.load_model(f"models:/{demo_settings.mlflow_model_name}@champion")
    columns = list(model.feature_names_in_)
    assert columns[-1] == "sex" and set(columns[:-1]) == {
        c for c in catalog.columns if c.startswith("diff_")
    }
    sample = catalog.sample(300, random_state=1)
    proba = model.predict_proba(sample[columns].astype(float))
    np.testing.assert_allclose(proba, predictions.loc[sample.index, PROBA].to_numpy(), rtol=1e-12)


def test_both_aliases_point_at_tagged_runs_with_metrics(
    demo_settings: Settings, demo_summary: Any
) -> None:
    client = _registry(demo_settings)
    name = demo_settings.mlflow_model_name
    versions = {}
    for alias in ("champion", "challenger"):
        version = client.get_model_version_by_alias(name, alias)
        run = client.get_run(version.run_id)
        assert run.data.tags["matchgraph.demo.seed"] == str(DEMO_SEED)
        assert run.data.tags["matchgraph.demo.matches"] == str(DEMO_MATCHES)
        assert {"log_loss", "accuracy", "brier"} <= set(run.data.metrics)
        assert 0.3 < run.data.metrics["accuracy"] < 0.7
        versions[alias] = (str(version.version), version.run_id)
    assert versions["champion"] != versions["challenger"]
    assert versions["champion"] == (demo_summary.champion_version, demo_summary.champion_run_id)
    assert versions["challenger"] == (
        demo_summary.challenger_version,
        demo_summary.challenger_run_id,
    )


# --- the data contract ---------------------------------------------------------------------


def test_every_source_the_demo_writes_meets_the_data_contract(demo_dir: Path) -> None:
    """Each declared source is where the contract says, with its columns, dtypes and keys."""
    from graph.sources.tables import ALL_TABLES, TableSpec

    for spec in ALL_TABLES:
        data = (demo_dir / spec.bucket / spec.key).read_bytes()
        value = spec.decode(data)  # as the API reads it (a CSV's dtypes are what it infers)
        assert spec.required <= spec.names(value), spec.source
        if isinstance(spec, TableSpec):
            assert spec.dtypes, f"{spec.source} declares no dtypes"
            assert spec.dtype_problems(value) == [], spec.source
        assert spec.rows(spec.parse(data)) > 0, spec.source


def test_the_contract_check_names_what_departs_from_it(predictions: pd.DataFrame) -> None:
    from graph.sources.tables import PREDICTIONS

    assert PREDICTIONS.dtype_problems(predictions) == []
    broken = predictions.drop(columns="model_stage").astype({"predicted_class": float})
    broken.index = broken.index.astype(np.int32)
    assert PREDICTIONS.dtype_problems(broken) == [
        "predictions/predictions.parquet: match_id is int32, not int64",
        "predictions/predictions.parquet: predicted_class is float64, not int64",
        "predictions/predictions.parquet: no column model_stage",
    ]


# --- odds, ROI, drift, reports -------------------------------------------------------------


def test_odds_cover_most_matches_with_a_five_percent_margin(
    odds: pd.DataFrame, catalog: pd.DataFrame
) -> None:
    assert odds.index.name == "match_id" and odds.index.is_unique
    assert odds.index.isin(catalog.index).all()
    assert 0.6 <= len(odds) / len(catalog) <= 0.7
    assert list(odds.columns) == [
        "odd_home",
        "odd_draw",
        "odd_away",
        "fonbet_event_id",
        "fonbet_sport_id",
    ]
    prices = odds[["odd_home", "odd_draw", "odd_away"]]
    assert (prices > 1.0).all().all()
    overround = (1.0 / prices).sum(axis=1)
    assert overround.mean() == pytest.approx(1.05, abs=0.003)
    assert overround.between(1.03, 1.07).all()
    assert pd.api.types.is_integer_dtype(odds["fonbet_event_id"])
    assert odds["fonbet_event_id"].is_unique
    assert odds["fonbet_sport_id"].dtype == "Int64"
    assert 0.05 <= odds["fonbet_sport_id"].isna().mean() <= 0.15


def test_roi_by_region(demo_dir: Path, catalog: pd.DataFrame) -> None:
    roi = _read(demo_dir, ROI)
    assert list(roi.columns) == ["region", "n_bets", "roi", "profit", "n_won"]
    assert len(roi) > 0 and roi["region"].is_unique
    assert set(roi["region"]) <= set(catalog["region"])
    assert (roi["n_bets"] > 0).all()
    assert (roi["n_won"] <= roi["n_bets"]).all()
    assert np.allclose(roi["roi"], roi["profit"] / roi["n_bets"], atol=1e-3)


def test_drift_report_shape(demo_dir: Path, reference_now: pd.Timestamp) -> None:
    drift = json.loads((demo_dir / DRIFT).read_text())
    assert datetime.fromisoformat(drift["computed_at"]) == reference_now.to_pydatetime()
    assert datetime.fromisoformat(drift["computed_at"]).tzinfo == UTC
    features = drift["features"]
    assert len(features) >= 8 and all(FEATURE.match(name) for name in features)
    for stats in features.values():
        assert set(stats) == {"statistic", "p_value", "drifted", "reference_mean", "current_mean"}
        assert 0.0 <= stats["statistic"] <= 1.0 and 0.0 <= stats["p_value"] <= 1.0
        assert isinstance(stats["drifted"], bool)
    drifted = [name for name, stats in features.items() if stats["drifted"]]
    assert drift["drifted_features"] == drifted
    assert drift["share_drifted"] == pytest.approx(len(drifted) / len(features))
    assert drift["dataset_drift"] is (drift["share_drifted"] >= 0.5)


def test_html_reports_are_self_contained(demo_dir: Path) -> None:
    reports = sorted((demo_dir / "reports" / "evidently").glob("*.html"))
    assert [p.name.split("_2")[0] for p in reports] == ["data_drift", "model_quality"]
    for report in reports:
        html = report.read_text()
        assert html.startswith("<!DOCTYPE html>")
        assert "<script" not in html and "<link" not in html
        assert not re.search(r"(src|href)=\"?https?:", html)


# --- reproducibility ----------------------------------------------------------------------


def _snapshot(data_dir: Path) -> dict[str, Any]:
    files: dict[str, Any] = {str(p): _read(data_dir, p) for p in (*TABLES, ROI)}
    files[str(DRIFT)] = json.loads((data_dir / DRIFT).read_text())
    for report in (data_dir / "reports" / "evidently").glob("*.html"):
        files[report.name] = report.read_text()
    return files


def _assert_same(
    left: dict[str, Any], right: dict[str, Any], *, ignore: tuple[str, ...] = ()
) -> None:
    assert left.keys() == right.keys()
    for name, value in left.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(
                value.drop(columns=list(ignore), errors="ignore"),
                right[name].drop(columns=list(ignore), errors="ignore"),
            )
        elif name.startswith("model_quality"):
            continue  # shows registry versions, which differ between registries
        else:
            assert value == right[name], name


def test_rerun_rewrites_identical_files_and_registers_nothing(
    demo_dir: Path, demo_settings: Settings, demo_summary: Any
) -> None:
    from jobs.demo.pipeline import run_demo

    before, versions = _snapshot(demo_dir), _version_count(demo_settings)
    raw = {p: (demo_dir / p).read_bytes() for p in (*TABLES, ROI, DRIFT)}
    again = run_demo(demo_settings, matches=DEMO_MATCHES, seed=DEMO_SEED, show_progress=False)
    assert again.training_skipped and not demo_summary.training_skipped
    assert (again.champion_version, again.challenger_version) == (
        demo_summary.champion_version,
        demo_summary.challenger_version,
    )
    assert _version_count(demo_settings) == versions == 2
    _assert_same(before, _snapshot(demo_dir))
    assert raw == {p: (demo_dir / p).read_bytes() for p in raw}


def test_same_seed_in_a_fresh_registry_gives_the_same_data(demo_dir: Path, tmp_path: Path) -> None:
    from jobs.demo.pipeline import run_demo

    run_demo(demo_settings_for(tmp_path), matches=DEMO_MATCHES, seed=DEMO_SEED, show_progress=False)
    # Only the MLflow run id differs: a new registry mints new ids.
    _assert_same(_snapshot(demo_dir), _snapshot(tmp_path), ignore=("model_run_id",))


def test_another_seed_gives_another_world() -> None:
    from jobs.demo.schedule import build_fixtures
    from jobs.demo.world import build_world

    one, other = build_world(1, DEMO_MATCHES), build_world(2, DEMO_MATCHES)
    assert list(one.team_names) != list(other.team_names)
    fixtures = [build_fixtures(w, matches=DEMO_MATCHES, seed=s) for s, w in ((1, one), (2, other))]
    assert not fixtures[0]["match_id"].equals(fixtures[1]["match_id"])


def test_too_few_matches_is_refused_before_writing(tmp_path: Path) -> None:
    from jobs.demo.pipeline import run_demo

    with pytest.raises(ValueError, match="matches, got 100"):
        run_demo(demo_settings_for(tmp_path), matches=100, seed=1, show_progress=False)
    assert not any(tmp_path.iterdir())


def test_registries_leave_the_environment_alone(
    demo_settings: Settings, demo_summary: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlflow.set_tracking_uri writes MLFLOW_TRACKING_URI for subprocesses; we must not:
    a process started afterwards would use this registry instead of its own settings'."""
    import mlflow

    from jobs.demo.registry import Registry
    from jobs.registry import ModelRegistry

    mlflow.set_tracking_uri(None)  # else mlflow writes the variable only on a change
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    demo = Registry(demo_settings)
    assert demo.find("champion") is not None
    served = ModelRegistry(demo_settings).load("champion")
    assert served is not None and served.version == demo_summary.champion_version
    assert "MLFLOW_TRACKING_URI" not in os.environ
