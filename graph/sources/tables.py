"""What each pipeline file is: where it lives, what it must hold, how it is indexed."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import pandas as pd

from graph.sources import catalog, drift
from graph.sources.catalog import MatchCatalog, iso_column
from graph.sources.codecs import decode_frame, decode_object
from graph.sources.drift import DriftReport, build_drift
from graph.sources.errors import InvalidSource
from graph.sources.keyed import KeyedTable, nullable_int_column, python_column, unique_index

T = TypeVar("T")
V = TypeVar("V")  # what the bytes decode to, before validation
SizedT = TypeVar("SizedT", bound=Sized)


@dataclass(frozen=True)
class SourceSpec(abc.ABC, Generic[V, T]):
    """A source file and how to turn its bytes into a servable, immutable value.

    Decoding, the required-names check and building are the same steps for
    every kind of file; subclasses say how bytes decode and which names a
    decoded value has (a frame's columns, a document's keys). The snapshot
    machinery (refresh by etag, keep last good, status) only sees this class.
    """

    name: str
    bucket: str
    key: str
    required: frozenset[str]
    build: Callable[[V], T]
    empty: Callable[[], T]

    what: ClassVar[str] = "names"  # what `required` lists, for error messages

    @property
    def source(self) -> str:
        return f"{self.bucket}/{self.key}"

    @abc.abstractmethod
    def decode(self, data: bytes) -> V:
        """Bytes to a value; InvalidSource when unreadable."""

    @abc.abstractmethod
    def names(self, value: V) -> set[str]:
        """The names `required` is checked against."""

    @abc.abstractmethod
    def rows(self, table: T) -> int:
        """What /ready reports as the size of a loaded table."""

    def parse(self, data: bytes) -> T:
        """Decode, validate required names and build. Runs off the event loop."""
        value = self.decode(data)
        missing = sorted(self.required - self.names(value))
        if missing:
            raise InvalidSource(f"{self.source}: missing required {self.what} {', '.join(missing)}")
        try:
            return self.build(value)
        except InvalidSource:
            raise
        except Exception as exc:
            raise InvalidSource(f"{self.source}: invalid values ({type(exc).__name__})") from exc


@dataclass(frozen=True)
class TableSpec(SourceSpec[pd.DataFrame, SizedT]):
    """A tabular file (parquet, CSV, JSON records) decoded into a DataFrame."""

    what: ClassVar[str] = "columns"

    def decode(self, data: bytes) -> pd.DataFrame:
        return decode_frame(self.key, data)

    def names(self, value: pd.DataFrame) -> set[str]:
        return {n for n in (*value.columns, *value.index.names) if isinstance(n, str)}

    def rows(self, table: SizedT) -> int:
        return len(table)


@dataclass(frozen=True)
class DocumentSpec(SourceSpec[Mapping[str, Any], T]):
    """A JSON object (a report the pipeline writes) built into one immutable value."""

    what: ClassVar[str] = "keys"

    def decode(self, data: bytes) -> Mapping[str, Any]:
        return decode_object(self.key, data)

    def names(self, value: Mapping[str, Any]) -> set[str]:
        return set(value)

    def rows(self, table: T) -> int:
        return 0 if table is None else 1


def _id_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Index by match id (parquet index or a `match_id` column), ids as int64."""
    if "match_id" not in frame.columns and frame.index.name != "match_id":
        raise InvalidSource("no match_id index or column")
    frame = unique_index(frame, "match_id")
    frame.index = frame.index.astype(np.int64)
    return frame


def build_catalog(frame: pd.DataFrame) -> MatchCatalog:
    return MatchCatalog(_id_frame(frame))


def empty_catalog() -> MatchCatalog:
    columns = {name: pd.Series(dtype=object) for name in catalog.REQUIRED}
    return MatchCatalog(pd.DataFrame(columns, index=pd.Index([], name="match_id", dtype="int64")))


PREDICTION_COLUMNS = ("proba_home", "proba_draw", "proba_away", "predicted_class")
ORPHAN_COLUMNS = ("start_iso", "homeTeamName", "awayTeamName", "is_future")


def build_predictions(frame: pd.DataFrame) -> KeyedTable:
    frame = _id_frame(frame).dropna(subset=list(PREDICTION_COLUMNS))
    frame = frame[frame["predicted_class"].isin([0, 1, 2])]
    start = pd.to_datetime(frame.get("startTimeUtc", pd.Series(pd.NaT, frame.index)), utc=True)
    columns = {name: python_column(frame[name].astype(float)) for name in PREDICTION_COLUMNS[:3]}
    columns["predicted_class"] = nullable_int_column(frame["predicted_class"])
    for name in ("model_run_id", "model_stage", "homeTeamName", "awayTeamName"):
        columns[name] = _optional(frame, name)
    future = frame.get("is_future", pd.Series(False, index=frame.index))
    columns["is_future"] = python_column(future.fillna(False).astype(bool))
    columns["start_iso"] = iso_column(start)
    return KeyedTable(frame.index, columns)


def build_odds(frame: pd.DataFrame) -> KeyedTable:
    frame = _id_frame(frame)
    columns = {name: python_column(frame[name].astype(float)) for name in ODDS_COLUMNS}
    for name in ("fonbet_event_id", "fonbet_sport_id"):
        series = frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
        columns[name] = nullable_int_column(series)
    return KeyedTable(frame.index, columns)


ODDS_COLUMNS = ("odd_home", "odd_draw", "odd_away")
ROI_COLUMNS = ("region", "n_bets", "roi", "profit", "n_won")


def build_roi(frame: pd.DataFrame) -> KeyedTable:
    frame = frame.dropna(subset=["region"]).copy()
    frame["region_key"] = frame["region"].astype(str).str.casefold()
    frame = frame.drop_duplicates("region_key", keep="last").set_index("region_key")
    columns = {
        "region": python_column(frame["region"].astype(str)),
        "n_bets": nullable_int_column(frame["n_bets"]),
        "roi": python_column(frame["roi"].astype(float)),
        "profit": _optional(frame, "profit", float),
        "n_won": nullable_int_column(frame.get("n_won", pd.Series(np.nan, frame.index))),
    }
    return KeyedTable(frame.index, columns)


def _optional(frame: pd.DataFrame, name: str, kind: Any = None) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), None, dtype=object)
    return python_column(frame[name] if kind is None else frame[name].astype(kind))


def empty_keyed() -> KeyedTable:
    return KeyedTable(pd.Index([]), {})


CATALOG = TableSpec(
    "catalog",
    "predictions",
    "match_features.parquet",
    catalog.REQUIRED,
    build_catalog,
    empty_catalog,
)
PREDICTIONS = TableSpec(
    "predictions",
    "predictions",
    "predictions.parquet",
    frozenset({*PREDICTION_COLUMNS[:3], "predicted_class", "predicted_label"}),
    build_predictions,
    empty_keyed,
)
ODDS = TableSpec(
    "odds", "data-raw", "fonbet_odds.parquet", frozenset(ODDS_COLUMNS), build_odds, empty_keyed
)
ROI = TableSpec(
    "roi",
    "predictions",
    "analysis/live_betting/roi_by_region.csv",
    frozenset({"region", "n_bets", "roi"}),
    build_roi,
    empty_keyed,
)
DRIFT: DocumentSpec[DriftReport | None] = DocumentSpec(
    "drift", "reports", "drift/latest.json", drift.REQUIRED, build_drift, lambda: None
)
ALL_TABLES: tuple[SourceSpec[Any, Any], ...] = (CATALOG, PREDICTIONS, ODDS, ROI, DRIFT)
