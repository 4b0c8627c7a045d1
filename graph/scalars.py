"""The DateTime scalar: ISO-8601 with an offset, served as UTC `+00:00`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NewType

import strawberry

# Output values are ISO strings computed once per snapshot (vectorised); inputs
# parse to aware datetimes. Both Python types map to the one GraphQL scalar.
IsoDateTime = NewType("IsoDateTime", str)


def _serialize(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime cannot be served")
        return value.isoformat()
    raise ValueError(f"not a DateTime: {type(value).__name__}")


def _parse(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"DateTime needs a UTC offset, e.g. {value}+00:00")
    return parsed


DateTime = strawberry.scalar(
    name="DateTime",
    description="An ISO-8601 date-time with offset; served in UTC as `+00:00`.",
    serialize=_serialize,
    parse_value=_parse,
)

SCALAR_OVERRIDES: dict[object, Any] = {datetime: DateTime, IsoDateTime: DateTime}
