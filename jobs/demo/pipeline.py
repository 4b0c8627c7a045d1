"""`run_demo`: the whole demo pipeline, from a seeded world to every DATA.md file."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from graph.settings import Settings
from graph.sources.tables import (
    CATALOG,
    DRIFT,
    EVIDENTLY_PREFIX,
    ODDS,
    PREDICTIONS,
    REPORTS_BUCKET,
    ROI,
)
from jobs.demo import outputs
from jobs.demo.betting import roi_by_region
from jobs.demo.bookmaker import quote_odds
from jobs.demo.catalog import build_catalog
from jobs.demo.drift import drift_report
from jobs.demo.features import FEATURES, form_features
from jobs.demo.inference import orphan_fixtures, predict
from jobs.demo.models import CHALLENGER, CHAMPION, Split, time_split
from jobs.demo.outputs import Output
from jobs.demo.progress import Progress
from jobs.demo.registry import Registry
from jobs.demo.reports import data_drift_html, model_quality_html
from jobs.demo.schedule import build_fixtures
from jobs.demo.scores import expected_goals, outcome_probabilities, simulate
from jobs.demo.training import TrainedModels, train_or_reuse
from jobs.demo.world import World, build_world, reference_now

STAGES = (
    "world",
    "features",
    "models",
    "predictions",
    "odds and betting",
    "drift",
    "write",
    "live scores",
)
MAX_THREADS = 2  # BLAS/OpenMP threads: the demo shares a small machine with the API and Redis


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What one demo run produced."""

    matches: int
    finished: int
    upcoming: int
    regions: int
    tournaments: int
    teams: int
    odds_rows: int
    orphan_predictions: int
    roi_regions: int
    champion_version: str
    champion_run_id: str
    challenger_version: str
    challenger_run_id: str
    training_skipped: bool
    live_scores: int  # live-score table rows for the finished matches (0: database down)
    seconds: float


@dataclass(frozen=True, slots=True)
class _Simulation:
    world: World
    fixtures: pd.DataFrame
    catalog: pd.DataFrame
    true_proba: np.ndarray
    split: Split


def run_demo(
    settings: Settings, *, matches: int = 20_000, seed: int = 42, show_progress: bool = True
) -> DemoSummary:
    """Write every DATA.md file under the settings' storage and register both models.

    Deterministic for a seed; running it again rewrites identical files and
    reuses the registered models instead of training new versions.
    """
    started = time.perf_counter()
    progress = Progress(STAGES, enabled=show_progress)
    try:
        with threadpool_limits(limits=MAX_THREADS):
            sim = _simulate(matches, seed, progress)
            with progress.stage("models"):
                registry = Registry(settings)
                trained = train_or_reuse(
                    registry,
                    sim.catalog,
                    sim.split,
                    seed=seed,
                    matches=matches,
                    wrap=lambda c: progress.iter(c, "training", total=2),
                )
            files = _derive(sim, registry, trained, seed, progress)
        with progress.stage("write"):
            outputs.write_outputs(
                settings, files, lambda o: progress.iter(o, "writing", len(files))
            )
        with progress.stage("live scores"):
            live_scores = outputs.fill_live_scores(settings, sim.catalog)
    finally:
        progress.close()
    return _summary(sim, files, trained, live_scores, time.perf_counter() - started)


def _simulate(matches: int, seed: int, progress: Progress) -> _Simulation:
    with progress.stage("world"):
        world = build_world(seed, matches)
        fixtures = build_fixtures(
            world, matches=matches, seed=seed, wrap=lambda t: progress.iter(t, "fixtures")
        )
        lam_home, lam_away = expected_goals(world, fixtures, seed)
        results = simulate(lam_home, lam_away, fixtures["is_future"].to_numpy(), seed)
    with progress.stage("features"):
        catalog = build_catalog(world, fixtures, results, form_features(fixtures, results))
    return _Simulation(
        world, fixtures, catalog, outcome_probabilities(lam_home, lam_away), time_split(catalog)
    )


def _derive(
    sim: _Simulation, registry: Registry, trained: TrainedModels, seed: int, progress: Progress
) -> list[Output]:
    catalog = sim.catalog
    with progress.stage("predictions"):
        champion = registry.load(CHAMPION)
        frame = pd.concat([catalog, orphan_fixtures(sim.world, catalog, seed)])
        predictions = predict(
            champion,
            frame,
            run_id=trained.champion.run_id,
            trained_until=trained.champion.trained_until,
        )
    with progress.stage("odds and betting"):
        tournament = sim.fixtures["tournament"].to_numpy()
        odds = quote_odds(catalog.index.to_numpy(), tournament, sim.true_proba, seed)
        roi = roi_by_region(catalog, predictions, odds, sim.split.valid)
    with progress.stage("drift"):
        reports = _reports(sim, trained, predictions, seed)
    return [
        Output.of(CATALOG, catalog),
        Output.of(PREDICTIONS, predictions),
        Output.of(ODDS, odds),
        Output.of(ROI, roi),
        *reports,
    ]


def _reports(
    sim: _Simulation, trained: TrainedModels, predictions: pd.DataFrame, seed: int
) -> list[Output]:
    """Drift JSON and the two HTML reports, dated by the demo's "now" (not the clock)."""
    catalog, split, now = sim.catalog, sim.split, reference_now(seed)
    reference = catalog.loc[split.train, list(FEATURES)]
    current = catalog.loc[split.valid, list(FEATURES)]
    drift = drift_report(reference, current, computed_at=now)
    models = {CHAMPION: trained.champion, CHALLENGER: trained.challenger}
    quality = model_quality_html(
        models, catalog[split.valid], predictions, computed_at=now.isoformat()
    )
    day, bucket, prefix = now.date().isoformat(), REPORTS_BUCKET, EVIDENTLY_PREFIX
    return [
        Output.of(DRIFT, drift),
        Output(
            bucket, f"{prefix}data_drift_{day}.html", data_drift_html(drift, reference, current)
        ),
        Output(bucket, f"{prefix}model_quality_{day}.html", quality),
    ]


def _summary(
    sim: _Simulation, files: list[Output], trained: TrainedModels, live_scores: int, seconds: float
) -> DemoSummary:
    tables = {
        f"{f.bucket}/{f.key}": f.content for f in files if isinstance(f.content, pd.DataFrame)
    }
    upcoming = int(sim.catalog["is_future"].sum())
    return DemoSummary(
        matches=len(sim.catalog),
        finished=len(sim.catalog) - upcoming,
        upcoming=upcoming,
        regions=int(sim.catalog["region"].nunique()),
        tournaments=len(sim.world.tournaments),
        teams=int(sim.world.team_names.size),
        odds_rows=len(tables[ODDS.source]),
        orphan_predictions=len(tables[PREDICTIONS.source]) - len(sim.catalog),
        roi_regions=len(tables[ROI.source]),
        champion_version=trained.champion.version,
        champion_run_id=trained.champion.run_id,
        challenger_version=trained.challenger.version,
        challenger_run_id=trained.challenger.run_id,
        training_skipped=trained.reused,
        live_scores=live_scores,
        seconds=round(seconds, 2),
    )
