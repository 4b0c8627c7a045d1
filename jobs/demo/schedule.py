"""Fixtures: double round-robin seasons, weekly rounds, match ids increasing with time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from jobs.demo.world import STREAM_FIXTURES, World, reference_now, stream

FUTURE_SHARE = 0.09  # share of each tournament's rounds still to be played
SEASON_BREAK_WEEKS = 8
ID_BASE = 1_000_000
MAX_ID_GAP = 40  # ids are sparse, like a real feed's
_WEEK_NS = 7 * 86_400 * 10**9
_DAY_NS = 86_400 * 10**9
_MINUTE_NS = 60 * 10**9

Wrap = Callable[[Iterable[int]], Iterable[int]]


def build_fixtures(
    world: World, *, matches: int, seed: int, wrap: Wrap | None = None
) -> pd.DataFrame:
    """Exactly `matches` rows ordered by start: match_id, start_ns, tournament, home, away,
    season, is_future. `home`/`away` are global team ids; `start_ns` is UTC nanoseconds."""
    counts = allocate(world, matches)
    parts = [
        _tournament_fixtures(world, t, counts[t], stream(seed, STREAM_FIXTURES, t))
        for t in (wrap or iter)(range(len(world.tournaments)))
        if counts[t] > 0
    ]
    frame = pd.DataFrame({key: np.concatenate([p[key] for p in parts]) for key in parts[0]})
    monday = reference_now(seed) - timedelta(hours=12)
    frame["start_ns"] = pd.Timestamp(monday).value + frame.pop("offset_ns")
    frame = frame.sort_values(["start_ns", "tournament", "home"], kind="stable", ignore_index=True)
    gaps = stream(seed, STREAM_FIXTURES, len(world.tournaments)).integers(1, MAX_ID_GAP, len(frame))
    frame.insert(0, "match_id", ID_BASE + np.cumsum(gaps, dtype=np.int64))
    return frame


def allocate(world: World, matches: int) -> list[int]:
    """Matches per tournament, proportional to its season length, summing to `matches`."""
    weights = np.array([t.team_ids.size * (t.team_ids.size - 1) for t in world.tournaments])
    exact = matches * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    leftover = matches - int(counts.sum())
    counts[np.argsort(counts - exact, kind="stable")[:leftover]] += 1  # largest remainders
    return [int(c) for c in counts]


@lru_cache(maxsize=16)
def round_robin(n: int) -> np.ndarray:
    """(2(n-1) rounds, n/2 pairs, [home slot, away slot]): circle method, return legs swapped."""
    rotating = list(range(1, n))
    rounds = []
    for r in range(n - 1):
        order = [0, *rotating[r:], *rotating[:r]]
        pairs = [(order[i], order[n - 1 - i]) for i in range(n // 2)]
        if r % 2:  # alternate the fixed team's venue
            pairs[0] = pairs[0][::-1]
        rounds.append(pairs)
    first = np.array(rounds, dtype=np.int64)
    return np.concatenate([first, first[:, :, ::-1]])


def _tournament_fixtures(
    world: World, index: int, count: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    teams = world.tournaments[index].team_ids
    template = round_robin(teams.size)
    per_round, per_season = teams.size // 2, len(template)
    n_rounds = -(-count // per_round)
    seasons = -(-n_rounds // per_season)
    slots = rng.permuted(np.tile(np.arange(teams.size), (seasons, 1)), axis=1)
    g = np.arange(n_rounds)
    season = g // per_season
    pairs = template[g % per_season]  # (rounds, pairs, 2)
    home = teams[slots[season[:, None], pairs[:, :, 0]]].ravel()[-count:]
    away = teams[slots[season[:, None], pairs[:, :, 1]]].ravel()[-count:]
    week = g + season * SEASON_BREAK_WEEKS
    first_future = n_rounds - max(1, round(n_rounds * FUTURE_SHARE))
    week_rel = np.repeat(week - week[first_future], per_round)[-count:]
    kickoff = (
        rng.integers(4, 7, count) * _DAY_NS  # Friday to Sunday after the week's Monday
        + rng.integers(12, 21, count) * 60 * _MINUTE_NS
        + rng.choice([0, 15, 30, 45], count) * _MINUTE_NS
    )
    return {
        "tournament": np.full(count, index),
        "home": home,
        "away": away,
        "season": np.repeat(season, per_round)[-count:],
        "is_future": week_rel >= 0,
        "offset_ns": week_rel * _WEEK_NS + kickoff,
    }
