"""The schema-level half: one check every transport goes through, and registration.

Strawberry's `ExecutionContext` holds the document text (`query`) on every path
into the schema (HTTP `execute`, both WebSocket protocols and `/graphql/stream`
through `stream`/`subscribe`), and the request's `extensions`
(`operation_extensions`) where the transport passes them. So here:

- where only persisted documents run, a document that is not one is refused
  with PERSISTED_QUERY_REQUIRED whatever carried it. The refusal is set as the
  operation's pre-execution errors in `on_validate` (after ValidationCache set
  its own, so graphql-core's validation does not run again): Strawberry then
  answers with a PreExecutionError, which each transport already sends as a
  request error (`error` over graphql-transport-ws, a `next` event over SSE),
  nothing executes. Over HTTP the view refused it earlier (api/persisted/http.py),
  before the response cache; this is the one check for the other transports.
  A document that does not even parse is refused as GRAPHQL_PARSE_FAILED first.
- a document sent with its APQ hash is registered once it parsed and validated
  (never before: garbage is never registered), on any transport that passes
  `extensions` along.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from strawberry.extensions import SchemaExtension

from api import metrics
from api.persisted.documents import PersistedDocuments
from api.persisted.protocol import required
from graph.context import Context


class PersistedDocumentsCheck(SchemaExtension):
    def __init__(self, documents: PersistedDocuments) -> None:
        self.documents = documents

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.query
        if isinstance(document, str) and not self.documents.allows(document, self._headers()):
            metrics.persisted_query("refused")
            execution.pre_execution_errors = [required()]  # a new list: ValidationCache's is shared
        yield
        if isinstance(document, str) and not execution.pre_execution_errors:
            await self.documents.register_if_asked(execution.operation_extensions, document)

    def _headers(self) -> Mapping[str, str] | None:
        context = self.execution_context.context
        request = context.request if isinstance(context, Context) else None
        headers = getattr(request, "headers", None)
        return headers if isinstance(headers, Mapping) else None


def persisted_documents_check(documents: PersistedDocuments) -> Callable[[], SchemaExtension]:
    """The extension factory for `build_schema(observers=...)` (one instance per operation)."""
    return lambda: PersistedDocumentsCheck(documents)
