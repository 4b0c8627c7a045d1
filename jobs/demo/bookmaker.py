"""A bookmaker: noisy estimates of the true probabilities, quoted with a margin."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.demo.world import STREAM_ODDS, stream

MARGIN = 0.05  # sum of implied probabilities is about 1 + MARGIN
COVERAGE = 0.65  # share of catalogue matches the bookmaker lists
MISSING_SPORT_ID = 0.10  # rows whose sport id the feed lacks (no event URL then)
NOISE = 0.15  # sd of the bookmaker's error, in log-probability
EVENT_ID_BASE = 40_000_000
SPORT_ID_BASE = 11_900


def quote_odds(
    match_ids: np.ndarray, tournament: np.ndarray, true_proba: np.ndarray, seed: int
) -> pd.DataFrame:
    """fonbet_odds.parquet rows for a random COVERAGE share of the matches."""
    rng = stream(seed, STREAM_ODDS)
    listed = rng.random(match_ids.size) < COVERAGE
    noisy = np.log(true_proba) + rng.normal(0.0, NOISE, true_proba.shape)
    believed = np.exp(noisy) / np.exp(noisy).sum(axis=1, keepdims=True)
    odds = np.maximum(1.01, np.round(1.0 / (believed * (1.0 + MARGIN)), 2))[listed]
    count = int(listed.sum())
    sport = pd.array(SPORT_ID_BASE + 3 * tournament[listed], dtype="Int64")
    sport[rng.random(count) < MISSING_SPORT_ID] = pd.NA
    return pd.DataFrame(
        {
            "odd_home": odds[:, 0],
            "odd_draw": odds[:, 1],
            "odd_away": odds[:, 2],
            "fonbet_event_id": EVENT_ID_BASE + np.cumsum(rng.integers(1, 30, count)),
            "fonbet_sport_id": sport,
        },
        index=pd.Index(match_ids[listed].astype(np.int64), name="match_id"),
    )
