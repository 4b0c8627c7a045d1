"""The process's persisted documents: the manifest, the APQ registry, and the rules.

- A document named by id comes from the manifest first, then (automatic
  persisted queries) from the registry.
- `MATCHGRAPH_PERSISTED_ONLY`: only the manifest's documents run, whether named
  by id or sent in full (its exact text); the registry is not even opened (a
  registration would put any document on the list).
- `MATCHGRAPH_ENV=local` keeps GraphiQL working under that rule: a document a
  browser sends from a page of the API's own origin runs. The only page there is
  our GraphiQL (api/graphiql.py); the browser itself sets `Sec-Fetch-Site` (and
  `Origin`), page scripts cannot. This is a convenience of local mode, not a
  security boundary (any other client can send those headers): in production
  nothing is exempt.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from api import metrics
from api.persisted.manifest import EMPTY, Manifest, load_manifest
from api.persisted.protocol import APQ_VERSION, DocumentRef, is_sha256_hex, sha256_hex
from api.persisted.registry import ApqRegistry
from graph.settings import Settings

log = logging.getLogger(__name__)

# The most the registrations of one namespace hold in Redis, all documents together.
REDIS_BUDGET_BYTES = 64 * 2**20


class PersistedDocuments:
    """Resolves document ids, decides what may run, registers APQ documents."""

    def __init__(self, settings: Settings, manifest: Manifest = EMPTY) -> None:
        self.settings = settings
        self.manifest = manifest
        self.persisted_only = settings.persisted_only
        self.local = settings.env == "local"
        self.registry: ApqRegistry | None = None  # opened by the lifespan (open_registry)

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedDocuments:
        """Loads and checks the manifest now: a bad file stops the start (ManifestError)."""
        path = settings.persisted_documents
        manifest = load_manifest(path, max_tokens=settings.max_tokens) if path else EMPTY
        if settings.persisted_only and not len(manifest):
            log.warning("MATCHGRAPH_PERSISTED_ONLY with no persisted documents: nothing can run")
        return cls(settings, manifest)

    @property
    def apq_enabled(self) -> bool:
        return not self.persisted_only

    @contextlib.asynccontextmanager
    async def open_registry(self) -> AsyncIterator[None]:
        """The APQ registry for the app's lifetime (none where only persisted documents run)."""
        if not self.apq_enabled:
            yield
            return
        settings = self.settings
        self.registry = ApqRegistry(
            ApqRegistry.connect(settings.redis_url),
            settings.redis_names.persisted_query_prefix,
            ttl_seconds=settings.apq_ttl_seconds,
            cache_size=settings.apq_cache_size,
            max_document_bytes=settings.max_body_bytes,
            budget_bytes=REDIS_BUDGET_BYTES,
            on_store_error=metrics.PERSISTED_QUERY_STORE_ERRORS.inc,
        )
        try:
            yield
        finally:
            registry, self.registry = self.registry, None
            await registry.aclose()

    async def lookup(self, ref: DocumentRef) -> str | None:
        """The document `ref` names: the manifest's, else a registered one, else None."""
        document = self.manifest.get(ref.id)
        if document is None and self.registry is not None and is_sha256_hex(ref.id):
            document = await self.registry.get(ref.id)
        return document

    def allows(self, document: str, headers: Mapping[str, str] | None) -> bool:
        """Whether a document sent in full may run."""
        if not self.persisted_only or self.manifest.lists(document):
            return True
        return self.local and headers is not None and from_own_origin(headers)

    async def register_if_asked(self, extensions: Any, document: str) -> None:
        """After `document` parsed and validated: store it under the APQ hash the request
        sent along, if that is its hash and it is not known already."""
        registry = self.registry
        persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
        if registry is None or not isinstance(persisted, Mapping):
            return
        digest = persisted.get("sha256Hash")
        if persisted.get("version") != APQ_VERSION or not isinstance(digest, str):
            return
        digest = digest.lower()
        if registry.knows(digest) or self.manifest.get(digest) is not None:
            return
        if digest != sha256_hex(document):  # refused over HTTP already; elsewhere ignored
            return
        if await registry.register(digest, document):
            metrics.persisted_query("registered")


def from_own_origin(headers: Mapping[str, str]) -> bool:
    """A request a browser sent from a page of the server's own origin."""
    if headers.get("sec-fetch-site") == "same-origin":
        return True
    origin, host = headers.get("origin"), headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc.lower() == str(host).lower()
