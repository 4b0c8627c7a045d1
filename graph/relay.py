"""Relay plumbing: the Node interface, global ids, keyset cursors, PageInfo."""

from __future__ import annotations

import base64
import binascii

import strawberry

from graph.errors import bad_input
from graph.planner.binding import planned


def encode_global_id(type_name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode()


def decode_global_id(global_id: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(global_id.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad_input(f"malformed node id {global_id!r}") from exc
    type_name, sep, key = text.partition(":")
    if not sep or not type_name or not key:
        raise bad_input(f"malformed node id {global_id!r}")
    return type_name, key


def encode_cursor(start_ns: int, match_id: int) -> str:
    return base64.urlsafe_b64encode(f"m:{start_ns}:{match_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(start time ns, match id) of an `after` cursor; BAD_USER_INPUT when malformed."""
    try:
        kind, start, match_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind != "m":
            raise ValueError(kind)
        return int(start), int(match_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad_input(f"malformed cursor {cursor!r}") from exc


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    @strawberry.field(
        description="Globally unique opaque ID; `node(id:)` fetches it back.", metadata=planned()
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id(type(self).__name__, self.node_key()))

    def node_key(self) -> str:
        raise NotImplementedError


@strawberry.type(description="Where a page sits in its connection (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More rows follow this page.", metadata=planned()
    )
    has_previous_page: bool = strawberry.field(
        description="Rows precede this page.", metadata=planned()
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first edge.", metadata=planned()
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as `after` for the next page.",
        metadata=planned(),
    )
