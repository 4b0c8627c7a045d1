"""Bytes <-> DataFrame by file extension (parquet, CSV, JSON); bytes -> JSON object."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import orjson
import pandas as pd

from graph.sources.errors import InvalidSource


def _suffix(key: str) -> str:
    return key.rsplit(".", 1)[-1].lower() if "." in key else ""


def decode_frame(key: str, data: bytes) -> pd.DataFrame:
    """Parse `data` as the format `key`'s extension names."""
    suffix = _suffix(key)
    buffer = io.BytesIO(data)
    try:
        if suffix == "parquet":
            return pd.read_parquet(buffer, engine="pyarrow")
        if suffix == "csv":
            return pd.read_csv(buffer)
        if suffix == "json":
            return pd.read_json(buffer, orient="records")
    except Exception as exc:  # pyarrow/pandas raise many unrelated types
        raise InvalidSource(f"{key}: unreadable {suffix} ({type(exc).__name__})") from exc
    raise InvalidSource(f"{key}: no DataFrame codec for '.{suffix}'")


def decode_object(key: str, data: bytes) -> Mapping[str, Any]:
    """Parse `data` as one JSON object (a document such as reports/drift/latest.json)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidSource(f"{key}: unreadable JSON ({exc.msg})") from exc
    if not isinstance(value, dict):
        raise InvalidSource(f"{key}: expected a JSON object, got {type(value).__name__}")
    return value


def encode_frame(key: str, frame: pd.DataFrame) -> bytes:
    """Serialise `frame` in the format `key`'s extension names."""
    suffix = _suffix(key)
    if suffix == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, engine="pyarrow")
        return buffer.getvalue()
    if suffix == "csv":
        return frame.to_csv(index=False).encode()
    if suffix == "json":
        return frame.to_json(orient="records", date_format="iso").encode()
    raise ValueError(f"{key}: no DataFrame codec for '.{suffix}'")


def content_type(key: str) -> str:
    return {
        "parquet": "application/vnd.apache.parquet",
        "csv": "text/csv",
        "json": "application/json",
        "html": "text/html; charset=utf-8",
    }.get(_suffix(key), "application/octet-stream")
