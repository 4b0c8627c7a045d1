"""A tiny hand-made snapshot set, loaded in-process, for tests of the graph's modules.

Rows are chosen for the edge cases: three matches share a start time (ordered by
id), one has only NaN features, predictions hold orphan rows (no catalogue row)
and a row with no class (dropped), odds are missing for some matches and partial
for one, one region has no ROI row.

`edge_cases=True` adds rows for the cases the base set lacks (tests/test_planner_differential.py
runs on it; the other tests keep the base set, whose ids and order they assert): women's
matches (one with a lower-case variant of a region name), a match without a start time,
odds whose prices are all missing or only the home one known, odds of an orphan prediction,
one more orphan, and a region only the ROI file knows. `dirty=True` adds on top what
a careless pipeline could write and graphql-core refuses to serve (ids and counts beyond
32 bits, infinite floats): see EDGE and DIRTY below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graph.sources.local import LocalStorage
from graph.sources.snapshots import SnapshotSet, Sources
from tests import datasets

T0 = pd.Timestamp("2026-03-01T12:00:00Z")
NAT = pd.Timestamp("NaT")  # a missing start time (typed as a Timestamp, unlike pd.NaT)
NAN = np.nan


def catalog(*, edge_cases: bool = False, dirty: bool = False) -> pd.DataFrame:
    def row(start: pd.Timestamp, home: str, away: str, region: str | None, **rest: object) -> dict:
        return {
            "startTimeUtc": start,
            "homeTeamName": home,
            "awayTeamName": away,
            "region": region,
            "tournamentName": "Cup",
            "sex": 0,
            "is_future": start > T0,
            **rest,
        }

    day = pd.Timedelta(days=1)
    rows = {
        10: row(T0, "Arsenal", "Chelsea", "England", diff_a=1.0, diff_b=NAN, homeScore=2.0,
                awayScore=1.0, outcome_1x2=0.0),
        20: row(T0, "Lyon", "Arsenal", "England", diff_a=NAN, diff_b=NAN),
        30: row(T0 - day, "Real Madrid", "Barcelona", "Spain", diff_a=0.5, diff_b=-0.5),
        40: row(T0 + day, "Benfica", "Porto", "Portugal", diff_a=2.0, diff_b=3.0),
        15: row(T0, "Ajax", "PSV", None, diff_a=-1.0, diff_b=0.0),
    }  # fmt: skip
    if edge_cases or dirty:
        rows |= {
            # Women's matches; 60's region is a lower-case variant of England.
            50: row(T0 + 2 * day, "Lyon Féminin", "PSG Féminin", "France", sex=1,
                    tournamentName="D1 Arkema", diff_a=0.25, diff_b=NAN),
            60: row(T0 - 2 * day, "Arsenal Women", "Chelsea Women", "england", sex=1,
                    tournamentName="WSL", diff_a=NAN, diff_b=NAN, homeScore=0.0,
                    awayScore=0.0, outcome_1x2=1.0),
            # No start time (sorted last) and no tournament.
            70: row(NAT, "Celtic", "Rangers", "Scotland", tournamentName=None,
                    diff_a=1.5, diff_b=2.5),
        }  # fmt: skip
    if dirty:
        rows |= {
            # An id beyond Int's 32 bits; infinite features and a score beyond 32 bits.
            DIRTY_ID: row(T0 + 3 * day, "Overflow FC", "Big Id", "Dirtland", diff_a=1.0,
                          diff_b=1.0),
            80: row(T0 + 3 * day, "Inf FC", "Nan FC", "Dirtland", diff_a=np.inf,
                    diff_b=-np.inf, homeScore=1e10, awayScore=0.0, outcome_1x2=0.0),
        }  # fmt: skip
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.Index(frame.index.astype(np.int64), name="match_id")
    return frame


ORDER = [30, 10, 15, 20, 40]  # by start time, the three at T0 by id
# What edge_cases=True adds: women's matches (50 upcoming, 60 finished, in region "england"),
# 70 without a start time; 97 an orphan prediction; Atlantis a region only in the ROI file.
EDGE_ORDER = [60, 30, 10, 15, 20, 40, 50, 70]
WOMEN = [50, 60]
EDGE_ORPHANS = [97, 98, 99]
ROI_ONLY_REGION = "Atlantis"
# What dirty=True adds on top, both in region "Dirtland" (whose ROI row is dirty too).
DIRTY_ID = 3_000_000_000
DIRTY = [80, DIRTY_ID]


def predictions(*, edge_cases: bool = False, dirty: bool = False) -> pd.DataFrame:
    ids = [10, 30, 40, 20, 99, 98]
    frame = pd.DataFrame(
        {
            "proba_home": [0.5, 0.2, 0.3, 0.4, 0.6, 0.1],
            "proba_draw": [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
            "proba_away": [0.2, 0.5, 0.4, 0.3, 0.1, 0.6],
            # 20 has no class: the row is dropped, as if never predicted.
            "predicted_class": [0, 2, 2, NAN, 0, 2],
            "predicted_label": ["home", "away", "away", None, "home", "away"],
            "model_run_id": "run-a",
            "model_stage": "champion",
            # Orphans (99, 98) carry what a Match needs; 98 has no team names.
            "startTimeUtc": [T0, T0, T0, T0, T0 + pd.Timedelta(days=2), pd.NaT],
            "homeTeamName": ["Arsenal", "Real Madrid", "Benfica", "Lyon", "Orphan FC", None],
            "awayTeamName": ["Chelsea", "Barcelona", "Porto", "Arsenal", "Nobody", None],
            "is_future": [False, False, True, False, True, False],
        },
        index=pd.Index(np.array(ids, dtype=np.int64), name="match_id"),
    )
    extra: dict[int, dict[str, object]] = {}
    if edge_cases or dirty:
        extra |= {
            50: _prediction(0.2, 0.3, 0.5, 2, T0 + pd.Timedelta(days=2), "Lyon Féminin",
                            "PSG Féminin", True),
            70: _prediction(0.3, 0.4, 0.3, 1, NAT, "Celtic", "Rangers", False),
            # An orphan with no model stage.
            97: _prediction(0.25, 0.5, 0.25, 1, T0 + pd.Timedelta(days=5), "Ghost United",
                            "Phantom", True, model_stage=None),
        }  # fmt: skip
    if dirty:
        extra[80] = _prediction(np.inf, 0.3, 0.2, 0, T0 + pd.Timedelta(days=3), "Inf FC",
                                "Nan FC", True)  # fmt: skip
    if extra:
        more = pd.DataFrame.from_dict(extra, orient="index")
        more.index = pd.Index(more.index.astype(np.int64), name="match_id")
        frame = pd.concat([frame, more])
    return frame


def _prediction(
    home: float,
    draw: float,
    away: float,
    predicted: int,
    start: pd.Timestamp,
    home_team: str,
    away_team: str,
    future: bool,
    *,
    model_stage: str | None = "champion",
) -> dict[str, object]:
    return {
        "proba_home": home,
        "proba_draw": draw,
        "proba_away": away,
        "predicted_class": float(predicted),
        "predicted_label": ("home", "draw", "away")[predicted],
        "model_run_id": "run-b",
        "model_stage": model_stage,
        "startTimeUtc": start,
        "homeTeamName": home_team,
        "awayTeamName": away_team,
        "is_future": future,
    }


ORPHANS = [98, 99]


def odds(*, edge_cases: bool = False, dirty: bool = False) -> pd.DataFrame:
    """10 with Fonbet ids, 30 without, 40 without a draw price; 15 and 20 have none.

    Edge cases: 50 has only a home price, 60 a row without any price (a sport id only),
    and the orphan 99 has odds. Dirty: 80 has an infinite price and an event id beyond
    32 bits.
    """
    frame = pd.DataFrame(
        {
            "odd_home": [1.9, 2.5, 1.5],
            "odd_draw": [3.2, 3.0, NAN],
            "odd_away": [4.1, 2.8, 6.0],
            "fonbet_event_id": [123.0, NAN, 456.0],
            "fonbet_sport_id": [7.0, NAN, NAN],
        },
        index=pd.Index(np.array([10, 30, 40], dtype=np.int64), name="match_id"),
    )
    rows: dict[int, list[float]] = {}
    if edge_cases or dirty:
        rows |= {
            50: [2.1, NAN, NAN, NAN, NAN],
            60: [NAN, NAN, NAN, NAN, 7.0],
            99: [2.0, 3.0, 3.5, 789.0, 7.0],
        }
    if dirty:
        rows[80] = [np.inf, 3.0, 2.0, float(2**40), 7.0]
    if rows:
        more = pd.DataFrame.from_dict(rows, orient="index", columns=list(frame.columns))
        more.index = pd.Index(more.index.astype(np.int64), name="match_id")
        frame = pd.concat([frame, more])
    return frame


def roi(*, edge_cases: bool = False, dirty: bool = False) -> pd.DataFrame:
    """England and (lower-case) spain; Portugal has no row.

    Edge cases: Atlantis, a region no match belongs to, with `n_won`, and scotland
    without a bet count. Dirty: Dirtland
    with a bet count beyond 32 bits and an infinite ROI.
    """
    frame = pd.DataFrame(
        {
            "region": ["England", "spain"],
            "n_bets": [10, 4],
            "roi": [0.1, -0.25],
            "profit": [1.0, -1],
        }
    )
    if edge_cases or dirty:
        # Atlantis has no match; scotland (as the catalogue spells it: Scotland) no bet count.
        more = {
            "region": [ROI_ONLY_REGION, "scotland"],
            "n_bets": [3, NAN],
            "roi": [0.5, 0.0],
            "n_won": [2, NAN],
        }
        frame = pd.concat([frame, pd.DataFrame(more)], ignore_index=True)
    if dirty:
        more = {"region": ["Dirtland"], "n_bets": [2**40], "roi": [np.inf], "profit": [1.0]}
        frame = pd.concat([frame, pd.DataFrame(more)], ignore_index=True)
    return frame


def write(
    root: Path,
    catalog_frame: pd.DataFrame | None = None,
    *,
    edge_cases: bool = False,
    dirty: bool = False,
) -> None:
    """The four tabular files under `root` (no drift report: not produced yet)."""
    variant = {"edge_cases": edge_cases, "dirty": dirty}
    frame = catalog(**variant) if catalog_frame is None else catalog_frame
    datasets.write(root, datasets.FEATURES, frame)
    datasets.write(root, datasets.PREDICTIONS, predictions(**variant))
    datasets.write(root, datasets.ODDS, odds(**variant))
    datasets.write(root, datasets.ROI, roi(**variant))


async def load(root: Path) -> tuple[Sources, SnapshotSet]:
    """Sources over `root` (never re-checked on their own) and the set they serve."""
    sources = Sources(LocalStorage(root), refresh_seconds=3600)
    return sources, await sources.current()
