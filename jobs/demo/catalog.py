"""The match catalogue (match_features.parquet) in the pipeline's column names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.demo.world import World

HOME, DRAW, AWAY = 0, 1, 2


def build_catalog(
    world: World, fixtures: pd.DataFrame, results: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """One row per match, indexed by `match_id`, ordered by start time."""
    t = fixtures["tournament"].to_numpy()
    home_goals = results["home_goals"].to_numpy()
    away_goals = results["away_goals"].to_numpy()
    columns: dict[str, object] = {
        "startTimeUtc": pd.to_datetime(fixtures["start_ns"].to_numpy(), utc=True),
        "homeTeamName": _text(world.team_names[fixtures["home"].to_numpy()]),
        "awayTeamName": _text(world.team_names[fixtures["away"].to_numpy()]),
        "region": _text(_per_tournament(world, "region")[t]),
        "tournamentName": _text(_per_tournament(world, "name")[t]),
        "sex": np.array([x.sex for x in world.tournaments], dtype=np.int64)[t],
        "is_future": fixtures["is_future"].to_numpy(dtype=bool),
        "homeScore": home_goals,
        "awayScore": away_goals,
        "outcome_1x2": outcome(home_goals, away_goals),
    }
    columns.update({name: features[name].to_numpy() for name in features.columns})
    index = pd.Index(fixtures["match_id"].to_numpy(dtype=np.int64), name="match_id")
    return pd.DataFrame(columns, index=index)


def outcome(home_goals: np.ndarray, away_goals: np.ndarray) -> np.ndarray:
    """0 home win, 1 draw, 2 away win; NaN where the match is not played."""
    result = np.select([home_goals > away_goals, home_goals == away_goals], [HOME, DRAW], AWAY)
    return np.where(np.isnan(home_goals), np.nan, result.astype(float))


def _per_tournament(world: World, attribute: str) -> np.ndarray:
    return np.array([getattr(x, attribute) for x in world.tournaments], dtype=object)


def _text(values: np.ndarray) -> object:
    return pd.array(values, dtype="str")
