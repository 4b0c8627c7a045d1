"""Trusted documents: the manifest a client build ships (MATCHGRAPH_PERSISTED_DOCUMENTS).

Two formats, told apart by their shape:

- Apollo's persisted-query manifest (`@apollo/generate-persisted-query-manifest`):
  `{"format": "apollo-persisted-query-manifest", "version": 1, "operations":
  [{"id", "name", "type", "body"}]}`;
- GraphQL Codegen's `persisted-documents.json` (client preset,
  `persistedDocuments: true`): `{"<hash>": "<document>"}`.

Read once at start-up and checked then, so a broken file stops the process with
a message naming the file and the entry rather than refusing requests later:
each body must parse, and an id that looks like a SHA-256 must be its body's
(both generators hash the body; an id that is not a hash is the generator's own
choice and is taken as given). Documents are not validated against the schema
here: a stale manifest entry fails validation when requested, like any
document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError, parse

from api.persisted.protocol import is_sha256_hex, sha256_hex

APOLLO_FORMAT = "apollo-persisted-query-manifest"


class ManifestError(ValueError):
    """MATCHGRAPH_PERSISTED_DOCUMENTS cannot be used; the message says why and where."""


@dataclass(frozen=True)
class Manifest:
    """Documents by id, and the SHA-256 of every body (what a sent document is checked
    against where only persisted documents may run)."""

    by_id: Mapping[str, str] = field(default_factory=dict)
    hashes: frozenset[str] = frozenset()

    def get(self, document_id: str) -> str | None:
        return self.by_id.get(document_id)

    def lists(self, document: str) -> bool:
        """Whether `document` (its exact text) is one of the manifest's bodies."""
        return sha256_hex(document) in self.hashes

    def __len__(self) -> int:
        return len(self.by_id)


EMPTY = Manifest()


def load_manifest(path: Path, *, max_tokens: int | None = None) -> Manifest:
    """The manifest at `path`; raises ManifestError for anything unusable."""
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ManifestError(f"MATCHGRAPH_PERSISTED_DOCUMENTS: cannot read {path}: {exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"MATCHGRAPH_PERSISTED_DOCUMENTS: {path} is not JSON: {exc}") from exc
    try:
        entries = _entries(raw)
        return _manifest(entries, max_tokens)
    except ManifestError as exc:
        raise ManifestError(f"MATCHGRAPH_PERSISTED_DOCUMENTS: {path}: {exc}") from exc


def _entries(raw: Any) -> list[tuple[str, Any]]:
    """(id, body) pairs of either format."""
    if not isinstance(raw, dict):
        raise ManifestError(
            "expected an object: Apollo's persisted-query manifest or GraphQL Codegen's "
            "persisted-documents.json"
        )
    if "format" in raw or "operations" in raw:
        if raw.get("format") != APOLLO_FORMAT or raw.get("version") != 1:
            raise ManifestError(
                f'an Apollo manifest needs "format": "{APOLLO_FORMAT}" and "version": 1, got '
                f"format {raw.get('format')!r}, version {raw.get('version')!r}"
            )
        operations = raw.get("operations")
        if not isinstance(operations, list):
            raise ManifestError('"operations" must be a list')
        pairs = []
        for index, operation in enumerate(operations):
            if not isinstance(operation, dict) or not isinstance(operation.get("id"), str):
                raise ManifestError(f"operations[{index}] needs a string `id` and `body`")
            pairs.append((operation["id"], operation.get("body")))
        return pairs
    return list(raw.items())


def _manifest(entries: list[tuple[str, Any]], max_tokens: int | None) -> Manifest:
    by_id: dict[str, str] = {}
    for document_id, body in entries:
        if not isinstance(body, str) or not document_id:
            raise ManifestError(f"entry {document_id!r}: the document must be a string")
        digest = sha256_hex(body)
        key = document_id.lower() if is_sha256_hex(document_id.lower()) else document_id
        if is_sha256_hex(key) and key != digest:
            raise ManifestError(
                f"entry {document_id!r}: the id is not the SHA-256 of its document ({digest})"
            )
        if by_id.get(key, body) != body:
            raise ManifestError(f"entry {document_id!r} is listed twice with other documents")
        try:
            parse(body, max_tokens=max_tokens)
        except GraphQLError as exc:
            raise ManifestError(f"entry {document_id!r} does not parse: {exc.message}") from exc
        by_id[key] = body
    return Manifest(by_id, frozenset(sha256_hex(body) for body in by_id.values()))
