"""The wire protocol of persisted documents: how a request names one, and the errors.

Two ways to name a document instead of sending it:

- Apollo's automatic persisted queries: `extensions.persistedQuery =
  {"version": 1, "sha256Hash": "<hex>"}`, with or without `query`. Without it the
  server answers from what it knows or says PERSISTED_QUERY_NOT_FOUND (message
  `PersistedQueryNotFound`: Apollo Client's link, and older links, react to the
  message or the code, and retry with the document); with it, the hash must be the
  document's SHA-256 (BAD_USER_INPUT otherwise).
- GraphQL over HTTP's persisted documents: a `documentId` request parameter,
  `sha256:<hex>` or a bare id (a manifest may use ids of its own).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph.errors import Code, GraphError

APQ_VERSION = 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A manifest's own ids (documentId without `sha256:`): printable, no blanks, bounded.
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")
SHA256_PREFIX = "sha256:"


def sha256_hex(document: str) -> str:
    """What Apollo's link and the manifests' generators hash: the document's UTF-8 text."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    return _SHA256_HEX.fullmatch(value) is not None


@dataclass(frozen=True)
class DocumentRef:
    """A request's name for its document: an APQ hash or a documentId."""

    id: str  # lower-case hex for an APQ hash and `sha256:` ids; a manifest id as given
    apq: bool  # named by extensions.persistedQuery (else by documentId)


def read_ref(extensions: Any, document_id: Any) -> DocumentRef | None:
    """The document a request names, None when it names none; raises GraphError
    (BAD_USER_INPUT) for a malformed name (wrong version, not a hash)."""
    if document_id is not None:
        if not isinstance(document_id, str):
            raise GraphError("`documentId` must be a string", Code.BAD_USER_INPUT)
        if document_id.lower().startswith(SHA256_PREFIX):
            digest = document_id[len(SHA256_PREFIX) :].lower()
            if not is_sha256_hex(digest):
                raise GraphError(
                    "`documentId` sha256:<hash> needs 64 hexadecimal digits", Code.BAD_USER_INPUT
                )
            return DocumentRef(digest, apq=False)
        if not _DOCUMENT_ID.fullmatch(document_id):
            raise GraphError("`documentId` is not a document id", Code.BAD_USER_INPUT)
        bare = document_id.lower()
        return DocumentRef(bare if is_sha256_hex(bare) else document_id, apq=False)
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    if persisted is None:
        return None
    if not isinstance(persisted, Mapping) or persisted.get("version") != APQ_VERSION:
        raise GraphError(
            f"Unsupported persisted query version: send extensions.persistedQuery.version "
            f"{APQ_VERSION}",
            Code.BAD_USER_INPUT,
        )
    sent = persisted.get("sha256Hash")
    if not isinstance(sent, str) or not is_sha256_hex(sent.lower()):
        raise GraphError(
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits",
            Code.BAD_USER_INPUT,
        )
    return DocumentRef(sent.lower(), apq=True)


def not_found() -> GraphError:
    """An id the server does not know: send the document along (Apollo's message)."""
    return GraphError("PersistedQueryNotFound", Code.PERSISTED_QUERY_NOT_FOUND)


def mismatch() -> GraphError:
    """Apollo Server's message for a hash that is not the document's."""
    return GraphError("provided sha does not match query", Code.BAD_USER_INPUT)


def required() -> GraphError:
    return GraphError(
        "Only persisted documents run here (MATCHGRAPH_PERSISTED_ONLY): send the document's "
        "id (extensions.persistedQuery.sha256Hash or documentId) from the deployed manifest",
        Code.PERSISTED_QUERY_REQUIRED,
    )
