"""Form features: rolling means over each team's previous matches, home minus away.

Vectorised over a long "team-match" table (two rows per match), so half a
million matches take seconds. A row's form uses only matches the team played
strictly before it: no leakage of the match's own result into its features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW = 5
STATS = (
    "goals_scored",
    "goals_conceded",
    "goal_diff",
    "points",
    "win_rate",
    "draw_rate",
    "clean_sheet_rate",
    "failed_to_score_rate",
    "shots",
    "shots_conceded",
)
FEATURES = tuple(f"diff_{stat}_w{WINDOW}" for stat in STATS)
# Model input order: the catalogue's feature names sorted (as the API lists them), then sex.
MODEL_COLUMNS = (*sorted(FEATURES), "sex")


def form_features(fixtures: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """`diff_<stat>_w5` per fixture (NaN while either team lacks history)."""
    n = len(fixtures)
    team = np.concatenate([fixtures["home"].to_numpy(), fixtures["away"].to_numpy()])
    start = np.concatenate([fixtures["start_ns"].to_numpy()] * 2)
    side = {c: results[c].to_numpy() for c in results.columns}
    values = side_stats(
        goals_for=np.concatenate([side["home_goals"], side["away_goals"]]),
        goals_against=np.concatenate([side["away_goals"], side["home_goals"]]),
        shots_for=np.concatenate([side["home_shots"], side["away_shots"]]),
        shots_against=np.concatenate([side["away_shots"], side["home_shots"]]),
    )
    order = np.lexsort((start, team))  # by team, then time
    form = np.empty_like(values)
    form[order] = pre_match_form(team[order], values[order])
    return pd.DataFrame(form[:n] - form[n:], columns=list(FEATURES), index=fixtures.index)


def side_stats(
    *,
    goals_for: np.ndarray,
    goals_against: np.ndarray,
    shots_for: np.ndarray,
    shots_against: np.ndarray,
) -> np.ndarray:
    """(rows, len(STATS)) per-match values from one side's view; NaN rows for unplayed."""
    played = ~np.isnan(goals_for)
    win, draw = goals_for > goals_against, goals_for == goals_against
    columns = (
        goals_for,
        goals_against,
        goals_for - goals_against,
        3.0 * win + draw,
        win,
        draw,
        goals_against == 0,
        goals_for == 0,
        shots_for,
        shots_against,
    )
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    stacked[~played] = np.nan
    return stacked


def pre_match_form(team: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows sorted by team then time: mean of the team's last WINDOW played rows before each."""
    played = ~np.isnan(values[:, 0])
    rows = np.flatnonzero(played)
    after = rolling_mean(team[rows], values[rows], WINDOW)  # form including that match
    previous = np.cumsum(played) - played - 1  # position in `rows` of the last earlier played row
    valid = previous >= 0
    valid[valid] = team[rows[previous[valid]]] == team[valid]
    form = np.full_like(values, np.nan)
    form[valid] = after[previous[valid]]
    return form


def rolling_mean(group: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to `window` rows within each group (rows sorted by group).

    Prefix sums instead of groupby().rolling(): exact for the integer-valued
    stats here and an order of magnitude faster on a million rows.
    """
    m = len(group)
    index = np.arange(m)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    first = starts[np.searchsorted(starts, index, side="right") - 1]
    low = np.maximum(index - window + 1, first)
    sums = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    return np.asarray((sums[index + 1] - sums[low]) / (index - low + 1)[:, None])
