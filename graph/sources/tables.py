"""The data contract: what each pipeline file is, where it lives, what it must hold.

Declared once here and used by every reader and writer: the API's snapshots,
the worker (batch inference), ingestion (Fonbet odds), the demo pipeline and
`matchgraph up`. DATA.md describes the same contract in prose.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass, field
from datetime import datetime
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

PREDICTIONS_BUCKET = "predictions"  # what the pipeline derives: catalogue, predictions, ROI
RAW_BUCKET = "data-raw"  # what comes from outside: bookmaker odds, uploaded feeds
REPORTS_BUCKET = "reports"  # drift verdict and HTML reports
BUCKETS = frozenset({PREDICTIONS_BUCKET, RAW_BUCKET, REPORTS_BUCKET})
FEEDS_SOURCE_PREFIX = f"{RAW_BUCKET}/feeds/"  # `<bucket>/<key>` of feed files uploaded to ingest
EVIDENTLY_PREFIX = "evidently/"  # under REPORTS_BUCKET: Evidently-style HTML reports


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

    # The columns the pipeline writes (the index too, by name) and their dtype kind (DTYPES).
    dtypes: Mapping[str, str] = field(default_factory=dict, compare=False)

    what: ClassVar[str] = "columns"

    def decode(self, data: bytes) -> pd.DataFrame:
        return decode_frame(self.key, data)

    def names(self, value: pd.DataFrame) -> set[str]:
        return {n for n in (*value.columns, *value.index.names) if isinstance(n, str)}

    def rows(self, table: SizedT) -> int:
        return len(table)

    def dtype_problems(self, frame: pd.DataFrame) -> list[str]:
        """How `frame` departs from the declared columns and dtypes (empty: it conforms)."""
        problems = []
        for name, kind in self.dtypes.items():
            if name in frame.columns:
                dtype = frame[name].dtype
            elif frame.index.name == name:
                dtype = frame.index.dtype
            else:
                problems.append(f"{self.source}: no column {name}")
                continue
            if not DTYPES[kind](dtype):
                problems.append(f"{self.source}: {name} is {dtype}, not {kind}")
        return problems


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


def _is_utc(dtype: Any) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"


DTYPES: Mapping[str, Callable[[Any], bool]] = {
    "int64": lambda dtype: dtype == np.int64,
    "integer, nullable": pd.api.types.is_integer_dtype,  # Int64, or int64 without gaps
    "float64": lambda dtype: dtype == np.float64,
    "bool": lambda dtype: dtype == np.bool_,
    "string": pd.api.types.is_string_dtype,
    "datetime UTC": _is_utc,
}
LABELS = ("home", "draw", "away")  # predicted_label of predicted_class 0, 1, 2


def predictions_frame(
    rows: pd.DataFrame,
    proba: np.ndarray,
    *,
    run_id: str,
    stage: str,
    trained_until: datetime | None = None,
) -> pd.DataFrame:
    """predictions.parquet for `rows` (catalogue columns, indexed by match id).

    `proba` holds the model's class probabilities, one row per match in the
    order home, draw, away. `trained_until`: the end of the model's training
    window (its run's TRAINED_UNTIL_PARAM; NaT when unknown). Batch inference
    and the demo both write this.
    """
    if trained_until is not None and trained_until.tzinfo is None:
        raise ValueError("trained_until must be timezone-aware")
    window = pd.NaT if trained_until is None else pd.Timestamp(trained_until)
    proba = np.asarray(proba, dtype=np.float64).reshape(len(rows), len(LABELS))
    predicted = proba.argmax(axis=1).astype(np.int64)
    return pd.DataFrame(
        {
            **dict(zip(PROBA_COLUMNS, proba.T, strict=True)),
            "predicted_class": predicted,
            "predicted_label": pd.array(np.array(LABELS, dtype=object)[predicted], dtype="str"),
            "is_future": rows["is_future"].astype(bool).to_numpy(),
            "startTimeUtc": rows["startTimeUtc"].array,
            "homeTeamName": rows["homeTeamName"].array,
            "awayTeamName": rows["awayTeamName"].array,
            "model_run_id": pd.array([run_id] * len(rows), dtype="str"),
            "model_stage": pd.array([stage] * len(rows), dtype="str"),
            TRAINED_UNTIL: pd.Series(
                [window] * len(rows), index=rows.index, dtype="datetime64[ns, UTC]"
            ).array,
        },
        index=rows.index.rename("match_id"),
    )


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


PROBA_COLUMNS = ("proba_home", "proba_draw", "proba_away")  # class probabilities, LABELS order
PREDICTION_COLUMNS = (*PROBA_COLUMNS, "predicted_class")
# Optional: the end (exclusive) of the training window of the model that made the
# prediction, UTC. Matches starting at or after it are out of sample for that model;
# absent or NaT: unknown (graph/analytics/selection.py says what that means).
TRAINED_UNTIL = "model_trained_until"
# Numeric columns of the predictions table (float64 / int64 arrays, not Python values).
PROBA_ARRAY = "proba_array"  # (n, 3) class probabilities
TRAINED_UNTIL_NS = "trained_until_ns"  # ns since the epoch, UNKNOWN_NS when unknown
UNKNOWN_NS = np.iinfo(np.int64).min
ORPHAN_COLUMNS = ("start_iso", "homeTeamName", "awayTeamName", "is_future")


def build_predictions(frame: pd.DataFrame) -> KeyedTable:
    frame = _id_frame(frame).dropna(subset=list(PREDICTION_COLUMNS))
    frame = frame[frame["predicted_class"].isin([0, 1, 2])]
    start = pd.to_datetime(frame.get("startTimeUtc", pd.Series(pd.NaT, frame.index)), utc=True)
    proba = frame[list(PROBA_COLUMNS)].to_numpy(dtype=np.float64)
    # float64 columns (views of one array), not Python floats: KeyedTable.take converts
    columns: dict[str, np.ndarray] = {name: proba[:, i] for i, name in enumerate(PROBA_COLUMNS)}
    columns["predicted_class"] = nullable_int_column(frame["predicted_class"])
    for name in ("model_run_id", "model_stage", "homeTeamName", "awayTeamName"):
        columns[name] = _optional(frame, name)
    future = frame.get("is_future", pd.Series(False, index=frame.index))
    columns["is_future"] = python_column(future.fillna(False).astype(bool))
    columns["start_iso"] = iso_column(start)
    columns[PROBA_ARRAY] = proba
    columns[TRAINED_UNTIL_NS] = _trained_until_ns(frame)
    return KeyedTable(frame.index, columns)


def _trained_until_ns(frame: pd.DataFrame) -> np.ndarray:
    if TRAINED_UNTIL not in frame:
        return np.full(len(frame), UNKNOWN_NS, dtype=np.int64)
    window = pd.to_datetime(frame[TRAINED_UNTIL], utc=True)
    naive = window.dt.tz_convert(None).dt.as_unit("ns").to_numpy()
    return np.where(window.isna().to_numpy(), UNKNOWN_NS, naive.view(np.int64))


def build_odds(frame: pd.DataFrame) -> KeyedTable:
    frame = _id_frame(frame)
    prices = frame[list(ODDS_PRICE_COLUMNS)].to_numpy(dtype=np.float64)
    columns = {name: prices[:, i] for i, name in enumerate(ODDS_PRICE_COLUMNS)}
    columns[PRICE_ARRAY] = prices
    for name in FONBET_ID_COLUMNS:
        series = frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
        columns[name] = nullable_int_column(series)
    return KeyedTable(frame.index, columns)


ODDS_PRICE_COLUMNS = ("odd_home", "odd_draw", "odd_away")  # required: decimal 1X2 odds
FONBET_ID_COLUMNS = ("fonbet_event_id", "fonbet_sport_id")  # optional: the event's URL
PRICE_ARRAY = "price_array"  # numeric column of the odds table: (n, 3) float64 prices
ODDS_FILE_COLUMNS = (*ODDS_PRICE_COLUMNS, *FONBET_ID_COLUMNS)  # what fonbet_odds.parquet holds
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


def build_drift_report(doc: Mapping[str, Any]) -> DriftReport | None:
    """The drift verdict; a problem in it names the file."""
    try:
        return build_drift(doc)
    except InvalidSource as exc:
        raise InvalidSource(f"{DRIFT.source}: {exc}") from exc


CATALOG = TableSpec(
    "catalog",
    PREDICTIONS_BUCKET,
    "match_features.parquet",
    catalog.REQUIRED,
    build_catalog,
    empty_catalog,
    # and the model's features, diff_<stat>_w5 (float64, NaN allowed)
    dtypes={
        "match_id": "int64",
        "startTimeUtc": "datetime UTC",
        "homeTeamName": "string",
        "awayTeamName": "string",
        "region": "string",
        "tournamentName": "string",
        "sex": "int64",
        "is_future": "bool",
        "homeScore": "float64",
        "awayScore": "float64",
        "outcome_1x2": "float64",
    },
)
PREDICTIONS = TableSpec(
    "predictions",
    PREDICTIONS_BUCKET,
    "predictions.parquet",
    frozenset({*PREDICTION_COLUMNS, "predicted_label"}),
    build_predictions,
    empty_keyed,
    dtypes={
        "match_id": "int64",
        "proba_home": "float64",
        "proba_draw": "float64",
        "proba_away": "float64",
        "predicted_class": "int64",
        "predicted_label": "string",
        "is_future": "bool",
        "startTimeUtc": "datetime UTC",
        "homeTeamName": "string",
        "awayTeamName": "string",
        "model_run_id": "string",
        "model_stage": "string",
        TRAINED_UNTIL: "datetime UTC",
    },
)
ODDS = TableSpec(
    "odds",
    RAW_BUCKET,
    "fonbet_odds.parquet",
    frozenset(ODDS_PRICE_COLUMNS),
    build_odds,
    empty_keyed,
    dtypes={
        "match_id": "int64",
        **dict.fromkeys(ODDS_PRICE_COLUMNS, "float64"),
        **dict.fromkeys(FONBET_ID_COLUMNS, "integer, nullable"),
    },
)
ROI = TableSpec(
    "roi",
    PREDICTIONS_BUCKET,
    "analysis/live_betting/roi_by_region.csv",
    frozenset({"region", "n_bets", "roi"}),
    build_roi,
    empty_keyed,
    dtypes={
        "region": "string",
        "n_bets": "int64",
        "roi": "float64",
        "profit": "float64",
        "n_won": "int64",
    },
)
DRIFT: DocumentSpec[DriftReport | None] = DocumentSpec(
    "drift", REPORTS_BUCKET, "drift/latest.json", drift.REQUIRED, build_drift_report, lambda: None
)
ALL_TABLES: tuple[SourceSpec[Any, Any], ...] = (CATALOG, PREDICTIONS, ODDS, ROI, DRIFT)
