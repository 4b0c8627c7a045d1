"""How a schema field declares that the planner covers it.

A field the planner may answer carries `metadata=planned(...)` next to its
definition. The row set of its type (graph/planner/rows.py) implements it as a
method of the same (Python) name, taking the field's arguments:

- `COLUMN`: a leaf; returns one ready-to-serialize value per row.
- `JOIN`: an object; returns the child row set and which parent rows have a
  child (None: every row, one to one).
- `JOIN_MANY`: a list of objects; returns the flat child row set and, per
  parent row, where its children start (offsets, one more than the rows).

A field without the mark is never planned: where its object has Python
sources (Match, Region) graphql-core resolves it inside a planned page, and
anywhere else the whole root field falls back to graphql-core.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

PLAN_KEY = "matchgraph.planned"


class Kind(Enum):
    COLUMN = "column"
    JOIN = "join"
    JOIN_MANY = "join_many"


def planned(kind: Kind = Kind.COLUMN) -> dict[str, Any]:
    """Strawberry field metadata marking the field as planned (see module doc)."""
    return {PLAN_KEY: kind}


def planned_kind(metadata: Any) -> Kind | None:
    """The kind a field's metadata declares, if any."""
    if not metadata:
        return None
    kind = metadata.get(PLAN_KEY)
    return kind if isinstance(kind, Kind) else None
