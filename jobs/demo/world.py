"""The seeded part of the world: clubs, league sizes and latent team strengths."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from jobs.demo.regions import REGIONS, WOMEN, Competition, Region

MIN_MATCHES = 500
MAX_MATCHES = 20_000_000  # keeps sparse match ids below 2**31 (GraphQL Int)
MIN_SEASONS = 3  # small data sets get smaller leagues rather than a single season
MIN_TEAMS = 6
_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; "now" moves in whole weeks with the seed

# Independent random streams per stage, so changing one stage leaves the others' draws alone.
STREAM_CLUBS, STREAM_FIXTURES, STREAM_SCORES, STREAM_ODDS, STREAM_ORPHANS = range(5)


def stream(seed: int, *keys: int) -> np.random.Generator:
    """A generator for one purpose, reproducible from the seed alone."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def reference_now(seed: int) -> datetime:
    """The demo's fixed "now" (a Monday noon, UTC): never the wall clock."""
    return _EPOCH + timedelta(weeks=seed % 52, hours=12)


@dataclass(frozen=True, slots=True)
class Tournament:
    """One competition and the global ids of its teams."""

    region: str
    name: str
    sex: int
    team_ids: np.ndarray


@dataclass(frozen=True, slots=True)
class World:
    """Every tournament and team, with latent strengths as log goal-rate effects."""

    tournaments: tuple[Tournament, ...]
    team_names: np.ndarray  # object array, index = global team id
    attack: np.ndarray
    defence: np.ndarray
    home_advantage: np.ndarray
    base_rate: np.ndarray  # per tournament: log of a typical team's goals per match


def build_world(seed: int, matches: int) -> World:
    """Clubs for every region, league sizes fitted to `matches`, strengths from the seed."""
    if not MIN_MATCHES <= matches <= MAX_MATCHES:
        raise ValueError(f"the demo needs {MIN_MATCHES} to {MAX_MATCHES} matches, got {matches}")
    sizes = iter(league_sizes(matches))
    tournaments: list[Tournament] = []
    names: list[str] = []
    for index, region in enumerate(REGIONS):
        comps = [(comp, next(sizes)) for comp in region.competitions]
        clubs = _clubs(region, stream(seed, STREAM_CLUBS, index), comps)
        for (comp, _), entrants in zip(comps, _entrants(region, comps, clubs), strict=True):
            ids = np.arange(len(names), len(names) + len(entrants))
            names.extend(entrants)
            tournaments.append(Tournament(region.name, comp.name, comp.sex, ids))
    rng = stream(seed, STREAM_CLUBS, len(REGIONS))
    count = len(names)
    sexes = np.array([t.sex for t in tournaments])
    return World(
        tournaments=tuple(tournaments),
        team_names=np.array(names, dtype=object),
        attack=rng.normal(0.0, 0.2, count),
        defence=rng.normal(0.0, 0.2, count),
        home_advantage=rng.normal(0.2, 0.05, count),
        base_rate=np.log(np.where(sexes == WOMEN, 1.3, 1.15)) + rng.normal(0, 0.05, sexes.size),
    )


def league_sizes(matches: int) -> list[int]:
    """Teams per competition: the listed size, shrunk (evenly) until MIN_SEASONS fit."""
    listed = [comp.teams for region in REGIONS for comp in region.competitions]
    season = sum(n * (n - 1) for n in listed)
    scale = min(1.0, math.sqrt(matches / (MIN_SEASONS * season)))
    return [max(MIN_TEAMS, 2 * int(n * scale / 2)) for n in listed]


def _clubs(
    region: Region, rng: np.random.Generator, comps: list[tuple[Competition, int]]
) -> list[str]:
    """Distinct men's club names (city x naming pattern), enough for every men's league."""
    combos = [pattern.format(city) for city in region.cities for pattern in region.patterns]
    needed = sum(teams for comp, teams in comps if comp.sex != WOMEN)
    picked = rng.choice(len(combos), size=needed, replace=False)
    return [combos[i] for i in picked]


def _entrants(
    region: Region, comps: list[tuple[Competition, int]], clubs: list[str]
) -> list[list[str]]:
    """Men's leagues split the clubs in order; women's leagues are the top clubs' sides."""
    entrants: list[list[str]] = []
    offset = 0
    for comp, teams in comps:
        if comp.sex == WOMEN:
            entrants.append([f"{club} {region.women_suffix}" for club in clubs[:teams]])
        else:
            entrants.append(clubs[offset : offset + teams])
            offset += teams
    return entrants
