"""Scores: Poisson goals from latent strengths that drift from season to season."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson

from jobs.demo.world import STREAM_SCORES, World, stream

SEASON_DRIFT = 0.06  # sd of a team's yearly strength change (log goal rate)
PERSISTENCE = 0.8  # strengths revert towards the team's long-run level (bounded spread)
MAX_GOALS = 12  # truncation of the score grid for outcome probabilities


def expected_goals(
    world: World, fixtures: pd.DataFrame, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Expected home and away goals of every fixture (the generator's ground truth)."""
    rng = stream(seed, STREAM_SCORES, 0)
    seasons = int(fixtures["season"].max()) + 1
    shape = (world.team_names.size, seasons)
    attack = world.attack[:, None] + _season_drift(rng, shape)
    defence = world.defence[:, None] + _season_drift(rng, shape)
    home, away, season = (fixtures[c].to_numpy() for c in ("home", "away", "season"))
    base = world.base_rate[fixtures["tournament"].to_numpy()]
    lam_home = base + attack[home, season] - defence[away, season] + world.home_advantage[home]
    lam_away = base + attack[away, season] - defence[home, season]
    return np.exp(lam_home), np.exp(lam_away)


def _season_drift(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """AR(1) deviations per team and season: form comes and goes, quality persists."""
    shocks = rng.normal(0, SEASON_DRIFT, shape)
    drift = np.empty(shape)
    drift[:, 0] = shocks[:, 0]
    for season in range(1, shape[1]):
        drift[:, season] = PERSISTENCE * drift[:, season - 1] + shocks[:, season]
    return drift


def simulate(
    lam_home: np.ndarray, lam_away: np.ndarray, is_future: np.ndarray, seed: int
) -> pd.DataFrame:
    """Goals and shots per side; NaN for matches not played yet."""
    rng = stream(seed, STREAM_SCORES, 1)
    # Draw for every match, then mask: the finished matches' draws do not depend on
    # how many fixtures lie in the future.
    drawn = {
        "home_goals": rng.poisson(lam_home),
        "away_goals": rng.poisson(lam_away),
        "home_shots": rng.poisson(3.5 + 6.5 * lam_home),
        "away_shots": rng.poisson(3.5 + 6.5 * lam_away),
    }
    return pd.DataFrame({k: np.where(is_future, np.nan, v.astype(float)) for k, v in drawn.items()})


def outcome_probabilities(lam_home: np.ndarray, lam_away: np.ndarray) -> np.ndarray:
    """(n, 3) true probabilities of home win, draw, away win under independent Poisson."""
    goals = np.arange(MAX_GOALS + 1)
    pmf_home = poisson.pmf(goals[None, :], lam_home[:, None])
    pmf_away = poisson.pmf(goals[None, :], lam_away[:, None])
    cdf_away_below = np.cumsum(pmf_away, axis=1) - pmf_away  # P(away < g)
    home = (pmf_home * cdf_away_below).sum(axis=1)
    draw = (pmf_home * pmf_away).sum(axis=1)
    proba = np.column_stack([home, draw, np.clip(1 - home - draw, 0, 1)])
    return np.asarray(proba / proba.sum(axis=1, keepdims=True))
