"""Why an ingestion could not even start (its payload is never read)."""

from __future__ import annotations


class SourceRefused(Exception):
    """The `source` names nothing ingestion may read: it escapes the storage or is absent."""
