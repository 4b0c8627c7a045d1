"""The match catalogue (match_features.parquet): filtering and keyset paging.

Rows are kept sorted by (start time, match id); filters are boolean masks over
numpy arrays and paging is a binary search, so a request never loops over the
whole table in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from graph.sources.keyed import KeyedTable, nullable_int_column, python_column, unique_index

FEATURE_PATTERN = re.compile(r"^diff_.+")
REQUIRED = frozenset({"startTimeUtc", "homeTeamName", "awayTeamName", "sex", "is_future"})
_NAT_LAST = np.iinfo(np.int64).max
DISPLAY_COLUMNS = (
    "start_iso",
    "homeTeamName",
    "awayTeamName",
    "tournamentName",
    "region",
    "women",
    "is_future",
    "homeScore",
    "awayScore",
    "outcome",
)


@dataclass(frozen=True, slots=True)
class MatchFilter:
    """The `matches` filters; None means "no filter"."""

    future_only: bool = False
    region: str | None = None
    team: str | None = None
    start_from: datetime | None = None  # inclusive
    start_to: datetime | None = None  # exclusive
    # Keep rows whose best value edge (graph/analytics/value.py) is at least `min_edge`:
    # `best_edge` holds it per catalogue position (NaN: the match has no value).
    min_edge: float | None = None
    best_edge: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of catalogue positions plus what a connection needs around it."""

    positions: np.ndarray
    total_count: int
    has_next: bool
    has_previous: bool


class MatchCatalog(KeyedTable):
    """Every match the pipeline knows, upcoming and finished."""

    def __init__(self, frame: pd.DataFrame) -> None:
        frame = _sorted(unique_index(frame, "match_id"))
        start = pd.to_datetime(frame["startTimeUtc"], utc=True)
        self.ids = frame.index.to_numpy(dtype=np.int64)
        self.start_ns = _epoch_ns(start)
        self.future = frame["is_future"].fillna(False).astype(bool).to_numpy()
        self.home_goals = _floats(frame, "homeScore")  # NaN: not played (yet)
        self.away_goals = _floats(frame, "awayScore")
        self.outcome_codes = _floats(frame, "outcome_1x2")  # 0/1/2, NaN: unknown
        self.feature_names = sorted(c for c in frame.columns if FEATURE_PATTERN.match(str(c)))
        self.features = frame[self.feature_names].to_numpy(dtype=np.float64, na_value=np.nan)
        self.team_codes, (self.home_code, self.away_code) = _codes(
            frame["homeTeamName"], frame["awayTeamName"]
        )
        region = frame["region"] if "region" in frame else pd.Series(None, index=frame.index)
        self.region_codes, (self.region_code,) = _codes(region)
        self.region_names = sorted({str(r) for r in region.dropna().unique()})
        super().__init__(pd.Index(self.ids, name="match_id"), _display_columns(frame, start))

    def page(self, where: MatchFilter, *, first: int, after: tuple[int, int] | None) -> Page:
        """Positions of up to `first` rows matching `where` after the keyset cursor."""
        candidates = np.flatnonzero(self._mask(where))
        start = 0
        if after is not None:
            start = self._after(candidates, after)
        chosen = candidates[start : start + first]
        return Page(
            positions=chosen,
            total_count=int(candidates.size),
            has_next=start + first < candidates.size,
            has_previous=start > 0,
        )

    def mask(self, where: MatchFilter) -> np.ndarray:
        """Which catalogue positions satisfy `where` (boolean, catalogue order)."""
        return self._mask(where)

    def cursor_key(self, position: int) -> tuple[int, int]:
        return int(self.start_ns[position]), int(self.ids[position])

    def _mask(self, where: MatchFilter) -> np.ndarray:
        mask = np.ones(self.ids.size, dtype=bool)
        if where.future_only:
            mask &= self.future
        if where.region is not None:
            mask &= self.region_code == self.region_codes.get(where.region.casefold(), -2)
        if where.team is not None:
            code = self.team_codes.get(where.team.casefold(), -2)
            mask &= (self.home_code == code) | (self.away_code == code)
        if where.start_from is not None:
            mask &= (self.start_ns >= _ns(where.start_from)) & (self.start_ns != _NAT_LAST)
        if where.start_to is not None:
            mask &= self.start_ns < _ns(where.start_to)
        if where.min_edge is not None:
            if where.best_edge is None:
                raise ValueError("a min_edge filter needs the best edges")
            with np.errstate(invalid="ignore"):
                mask &= where.best_edge >= where.min_edge  # NaN (no value) never passes
        return mask

    def _after(self, candidates: np.ndarray, after: tuple[int, int]) -> int:
        """Index in `candidates` of the first row strictly after the (time, id) key."""
        times = self.start_ns[candidates]
        lo = int(np.searchsorted(times, after[0], side="left"))
        hi = int(np.searchsorted(times, after[0], side="right"))
        ids = self.ids[candidates[lo:hi]]
        return lo + int(np.searchsorted(ids, after[1], side="right"))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64 = np.iinfo(np.int64)


def _ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, clamped to int64.

    Any aware datetime a client sends (years 1-9999) works: pandas timestamps
    only hold 1677-09-21..2262-04-11, so the arithmetic is Python's own, and a
    bound beyond int64 compares like the end of the range (a `to` before every
    match selects none, a `from` after every match too). Start times are int64
    with NaT stored as the maximum, which `from` excludes explicitly.
    """
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return min(max(micros * 1000, int(_INT64.min)), int(_INT64.max))


def _epoch_ns(start: pd.Series) -> np.ndarray:
    """UTC start times as int64 ns since the epoch, NaT as _NAT_LAST.

    Converted to naive `ns` first: a tz-aware column's `to_numpy()` is an object
    array, and pandas 3 keeps whatever unit the file stored (often `us`).
    """
    naive = start.dt.tz_convert(None).dt.as_unit("ns").to_numpy()
    return np.where(start.isna().to_numpy(), _NAT_LAST, naive.view(np.int64))


def _floats(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    key = _epoch_ns(pd.to_datetime(frame["startTimeUtc"], utc=True))
    order = np.lexsort((frame.index.to_numpy(), key))
    return frame.iloc[order]


def _codes(*columns: pd.Series) -> tuple[dict[str, int], list[np.ndarray]]:
    """Case-folded names -> shared integer codes, and each column's codes (-1 = missing)."""
    # The nullable string dtype keeps missing values as <NA> whatever the input dtype
    # (pandas 3 infers `str` columns whose missing values are NaN, not None).
    folded = [c.astype("string").str.casefold() for c in columns]
    vocabulary = sorted(set().union(*(c.dropna() for c in folded)))
    lookup = {name: code for code, name in enumerate(vocabulary)}
    arrays = [pd.Categorical(c, categories=vocabulary).codes.astype(np.int64) for c in folded]
    return lookup, arrays


def iso_column(start: pd.Series) -> np.ndarray:
    """ISO-8601 strings with +00:00 (None for NaT), computed once per snapshot."""
    text = start.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return python_column(text)


def _display_columns(frame: pd.DataFrame, start: pd.Series) -> dict[str, np.ndarray]:
    def optional(name: str) -> np.ndarray:
        if name in frame:
            return python_column(frame[name])
        return np.full(len(frame), None, dtype=object)

    return {
        "start_iso": iso_column(start),
        "homeTeamName": python_column(frame["homeTeamName"].astype(str)),
        "awayTeamName": python_column(frame["awayTeamName"].astype(str)),
        "tournamentName": optional("tournamentName"),
        "region": optional("region"),
        "women": python_column(frame["sex"].fillna(0).astype(int) == 1),
        "is_future": python_column(frame["is_future"].fillna(False).astype(bool)),
        "homeScore": nullable_int_column(frame.get("homeScore", pd.Series(np.nan, frame.index))),
        "awayScore": nullable_int_column(frame.get("awayScore", pd.Series(np.nan, frame.index))),
        "outcome": nullable_int_column(frame.get("outcome_1x2", pd.Series(np.nan, frame.index))),
    }
