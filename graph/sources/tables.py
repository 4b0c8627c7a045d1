"""What each pipeline file is: where it lives, what it must hold, how it is indexed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from graph.sources import catalog
from graph.sources.catalog import MatchCatalog, iso_column
from graph.sources.codecs import decode_frame
from graph.sources.errors import InvalidSource
from graph.sources.keyed import KeyedTable, nullable_int_column, python_column, unique_index

T = TypeVar("T")


@dataclass(frozen=True)
class TableSpec(Generic[T]):
    """A source file and how to turn its bytes into a servable table."""

    name: str
    bucket: str
    key: str
    required: frozenset[str]
    build: Callable[[pd.DataFrame], T]
    empty: Callable[[], T]

    @property
    def source(self) -> str:
        return f"{self.bucket}/{self.key}"

    def parse(self, data: bytes) -> T:
        """Decode, validate required columns and build. Runs off the event loop."""
        frame = decode_frame(self.key, data)
        present = set(frame.columns) | set(frame.index.names)
        missing = sorted(self.required - present)
        if missing:
            raise InvalidSource(f"{self.source}: missing required columns {', '.join(missing)}")
        try:
            return self.build(frame)
        except InvalidSource:
            raise
        except Exception as exc:
            raise InvalidSource(f"{self.source}: invalid values ({type(exc).__name__})") from exc


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
ALL_TABLES: tuple[TableSpec[Any], ...] = (CATALOG, PREDICTIONS, ODDS, ROI)
