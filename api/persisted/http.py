"""The HTTP side (`/graphql`, GET and POST): a request that names its document becomes
the request it stands for, before anything else looks at it.

`prepare` runs first in the view. A request naming a known document is rewritten
into the same request with the document in `query` (and without `documentId` or
`extensions.persistedQuery`): the response cache, the subscription and operation
name checks and Strawberry then see an ordinary request, so a GET by hash has the
very cache key of the GET with the document. Anything it cannot serve is
answered here, without running anything: an unknown id (PERSISTED_QUERY_NOT_FOUND,
status 200 as Apollo Server answers it, whatever the media type, so every client
retries with the document), a hash that is not the sent document's or a
malformed one (BAD_USER_INPUT), a document that is not persisted where only
persisted documents run (PERSISTED_QUERY_REQUIRED): both 400 under
`application/graphql-response+json`, 200 under `application/json`, like other
request errors. A request sending a document with its hash runs unchanged:
the schema extension registers the document once it validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from api import metrics
from api.http_media import GRAPHQL_RESPONSE_CONTENT_TYPE, response_content_type
from api.persisted.documents import PersistedDocuments
from api.persisted.protocol import mismatch, not_found, read_ref, required, sha256_hex
from graph.errors import Code, GraphError

DOCUMENT_ID = "documentId"
_REQUEST_ERRORS = frozenset({Code.BAD_USER_INPUT.value, Code.PERSISTED_QUERY_REQUIRED.value})


async def prepare(documents: PersistedDocuments, request: Request) -> Request | Response:
    """`request` as it stands, the request its document id stands for, or the answer."""
    params = await _params(request)
    if params is None:  # not a single JSON request: Strawberry answers it as usual
        return request
    query = params.get("query")
    try:
        ref = read_ref(params.get("extensions"), params.get(DOCUMENT_ID))
    except GraphError as invalid:
        return refusal(invalid, request, "invalid")
    if isinstance(query, str) and query:  # the document itself (and its hash, to register)
        if ref is not None and not ref.apq:
            both = GraphError("Send either `documentId` or `query`, not both", Code.BAD_USER_INPUT)
            return refusal(both, request, "invalid")
        if ref is not None and sha256_hex(query) != ref.id:
            return refusal(mismatch(), request, "mismatch")
        if not documents.allows(query, request.headers):
            return refusal(required(), request, "refused")
        return request
    if ref is None:  # no document and no id: Strawberry says so
        return request
    document = await documents.lookup(ref)
    if document is None:
        return refusal(not_found(), request, "not_found")
    metrics.persisted_query("hit")
    return _with_document(request, params, document)


def refusal(error: GraphQLError, request: Request, outcome: str) -> Response:
    """The answer to a request refused here (nothing ran), counted."""
    code = str((error.extensions or {}).get("code"))
    metrics.persisted_query(outcome)
    metrics.graphql_error(code)
    media_type = response_content_type(request.headers.get("accept"))
    body: dict[str, Any] = {"errors": [error.formatted]}
    status = 200
    if media_type == GRAPHQL_RESPONSE_CONTENT_TYPE and code in _REQUEST_ERRORS:
        status = 400  # a request error: no `data` entry
    else:
        body = {"data": None, **body}
    headers = {"vary": "Accept", "cache-control": "no-store"}
    return Response(orjson.dumps(body), status, headers=headers, media_type=media_type)


async def _params(request: Request) -> dict[str, Any] | None:
    """The request's parameters (GET: `variables` left as sent, `extensions` decoded), or
    None when they are not a single well-formed request (Strawberry refuses those)."""
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        if "extensions" in params:
            try:
                params["extensions"] = orjson.loads(params["extensions"])
            except orjson.JSONDecodeError:
                return None
        return params if isinstance(params.get("extensions"), dict | None) else None
    if request.method != "POST" or not request.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return None
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("extensions"), dict | None):
        return None
    return payload


def _with_document(request: Request, params: Mapping[str, Any], document: str) -> Request:
    """The request with `document` in `query`, its id gone."""
    extensions = {
        k: v for k, v in (params.get("extensions") or {}).items() if k != "persistedQuery"
    }
    if request.method == "GET":
        items = [
            (name, value)
            for name, value in request.query_params.multi_items()
            if name not in (DOCUMENT_ID, "extensions", "query")
        ]
        items.append(("query", document))
        if extensions:
            items.append(("extensions", orjson.dumps(extensions).decode()))
        scope = {**request.scope, "query_string": urlencode(items).encode("ascii")}
        return Request(scope, request.receive)
    payload = {k: v for k, v in params.items() if k not in (DOCUMENT_ID, "extensions")}
    payload["query"] = document
    if extensions:
        payload["extensions"] = extensions
    body = orjson.dumps(payload)
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    scope = {**request.scope, "headers": headers}
    return Request(scope, _replaying(body, request.receive))


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` whose first message is `body` (the original was read already); then the
    client's own messages again, so a disconnect is still seen."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
