"""JSON (orjson) for arq's jobs and results: nothing a client sends is ever unpickled."""

from __future__ import annotations

from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        # arq stores a failed job's exception as its result: keep what people need.
        return {"error": type(value).__name__, "message": str(value)}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


def loads(data: bytes) -> Any:
    return orjson.loads(data)
