"""A read-only table keyed by id, answering bulk lookups with vectorised takes."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd


def python_column(series: pd.Series) -> np.ndarray:
    """An object array of plain Python values with None for missing ones.

    Done once when a snapshot is built, so lookups on the request path are a
    `take` and a `tolist`, with no per-value conversion. Text repeats a lot (team,
    tournament and region names, model ids, kick-off times): equal strings share
    one object, so a column costs a pointer per row, not a string per row.
    """
    if _is_text(series):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        shared = np.asarray(uniques, dtype=object)
        out = np.full(len(series), None, dtype=object)
        present = codes >= 0
        out[present] = shared[codes[present]]
        return out
    # pandas accepts na_value=None (documented); pandas-stubs' overloads do not.
    values: np.ndarray = series.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return values


def _is_text(series: pd.Series) -> bool:
    """Only strings (and missing values): sharing equal values changes nothing.

    Checked on the values, not the dtype: factorizing mixed objects would merge
    values that are equal but of different types (1, 1.0, True).
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return False
    return pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")


def nullable_int_column(series: pd.Series) -> np.ndarray:
    """Whole numbers stored as floats (NaN for missing) -> object array of int | None."""
    numeric = pd.to_numeric(series, errors="coerce")
    out = np.empty(len(numeric), dtype=object)
    mask = numeric.notna().to_numpy()
    out[:] = None
    out[mask] = numeric[mask].astype("int64").tolist()
    return out


class KeyedTable:
    """Columns of Python values aligned on a unique key index."""

    def __init__(self, index: pd.Index, columns: dict[str, np.ndarray]) -> None:
        self.index = index
        self.columns = columns

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.index

    def positions(self, keys: Sequence[Hashable] | np.ndarray) -> np.ndarray:
        """Row positions of `keys`, -1 where a key is absent."""
        if len(self.index) == 0 or len(keys) == 0:
            return np.full(len(keys), -1, dtype=np.intp)
        return np.asarray(self.index.get_indexer(pd.Index(keys)), dtype=np.intp)

    def take(self, keys: Sequence[Hashable] | np.ndarray, names: Sequence[str]) -> TakeResult:
        """Values of `names` for `keys`, aligned on `keys` (absent rows flagged)."""
        pos = self.positions(keys)
        found = pos >= 0
        safe = np.where(found, pos, 0)
        if len(self.index) == 0:
            return TakeResult(found.tolist(), {name: [None] * len(keys) for name in names})
        return TakeResult(
            found.tolist(), {name: _values(self.columns[name], safe) for name in names}
        )


def _values(column: np.ndarray, at: np.ndarray) -> list[Any]:
    """Python values of `column` at `at`. A float64 column (kept numeric: 8 bytes a row
    instead of a Python float's 32) marks missing values with NaN: they come out None,
    as from an object column."""
    taken = column.take(at, axis=0)
    values: list[Any] = taken.tolist()
    if taken.dtype.kind == "f" and taken.ndim == 1 and np.isnan(taken).any():
        return [None if v != v else v for v in values]
    return values


class TakeResult:
    """Aligned lookup result: `found[i]` says whether row i exists."""

    __slots__ = ("columns", "found")

    def __init__(self, found: list[bool], columns: dict[str, list[Any]]) -> None:
        self.found = found
        self.columns = columns


def unique_index(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Index `frame` by `name` (column or index), keeping the last row of a duplicate id."""
    if name in frame.columns:
        frame = frame.set_index(name)
    frame.index = frame.index.rename(name)
    return frame[~frame.index.duplicated(keep="last")]
