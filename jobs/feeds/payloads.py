"""Reading a feed payload from the storage and explaining why one is refused.

Reasons are for the operator who has to fix the file: they name the record
(by its id and teams, not a list index alone) and the field, and show the
offending value; never a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from graph.sources.errors import InvalidKey, ObjectNotFound
from graph.sources.storage import Storage, split_source
from graph.sources.tables import FEEDS_SOURCE_PREFIX
from jobs.feeds.errors import SourceRefused

MAX_REASONS = 10
Label = Callable[[str, dict[str, Any]], str | None]


class PayloadRejected(Exception):
    """The payload failed validation: nothing of it may be written."""

    def __init__(self, reasons: list[str], records: int) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.records = records


async def read_feed(storage: Storage, source: str) -> bytes:
    """The bytes of `<bucket>/<key>`; SourceRefused for anything outside the storage."""
    try:
        bucket, key = split_source(source)
    except InvalidKey as exc:
        raise SourceRefused(
            f"source {source!r} refused: {exc}; give <bucket>/<key> inside the storage, "
            f"e.g. {FEEDS_SOURCE_PREFIX}livescores.json"
        ) from exc
    try:
        return await storage.get_bytes(bucket, key)
    except ObjectNotFound as exc:
        raise SourceRefused(f"source {source!r} does not exist in the storage") from exc


def decode_json(data: bytes, source: str) -> Any:
    """Parsed JSON, or PayloadRejected saying where the text breaks off."""
    if not data.strip():
        raise PayloadRejected([f"{source} is empty"], 1)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = _utf8_problem(data) or f"is not valid JSON ({exc})"
        hint = "; the file looks truncated" if "end of data" in reason else ""
        raise PayloadRejected([f"{source} {reason}{hint}"], 1) from None


def _utf8_problem(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text at byte {exc.start} ({exc.reason})"
    return None


def explain(error: ValidationError, payload: Any, label: Label) -> list[str]:
    """One line per problem: where (record and field), what is wrong, what was found."""
    problems = error.errors(include_url=False)
    reasons = [
        f"{locate(payload, item['loc'], label)}: {_message(item)}{_found(item)}"
        for item in problems[:MAX_REASONS]
    ]
    if len(problems) > MAX_REASONS:
        reasons.append(f"... and {len(problems) - MAX_REASONS} more problems")
    return reasons


def locate(payload: Any, loc: Sequence[int | str], label: Label) -> str:
    """A readable path: list items by their label (e.g. `match 123 (A v B)`), then fields."""
    parts: list[str] = []
    node, list_name = payload, "payload"
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            node = node[step]
            name = label(list_name, node) if isinstance(node, dict) else None
            parts.append(name or f"{list_name}[{step}]")
        elif isinstance(step, str) and isinstance(node, dict):
            node, list_name = node.get(step), step
            if not isinstance(node, list):
                parts.append(step)
        # anything else is a union branch pydantic names: not part of the data
    return " > ".join(parts) or "payload"


def _message(item: Any) -> str:
    message: str = item["msg"]
    return message.removeprefix("Value error, ")


def _found(item: Any) -> str:
    if item["type"] == "missing" or isinstance(item["input"], dict | list):
        return ""
    text = repr(item["input"])
    return f" (got {text[:60] + '...' if len(text) > 60 else text})"
