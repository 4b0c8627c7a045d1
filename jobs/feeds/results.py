"""What one ingestion run did: shared by the jobs, the CLI and the graph."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Counts of one run; `messages` are for people (reasons, unlinked events).

    `rejected` counts the records of a payload that failed validation (none of
    them is written); a payload that cannot be read at all counts as one.
    `unlinked` is set by feeds that link records to catalogue matches.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    unlinked: int | None = None
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for job results serialised with msgpack or JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> IngestResult:
        return cls(**values)

    def summary(self) -> str:
        counts = (
            f"inserted {self.inserted}, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {self.rejected}"
        )
        return counts if self.unlinked is None else f"{counts}, unlinked {self.unlinked}"
