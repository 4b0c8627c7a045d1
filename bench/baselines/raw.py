"""raw: a bare Starlette route returning precomputed response bytes (the physical limit).

The harness asks our API for each benchmarked request once, stores the
responses in a file, and this server answers the same requests with exactly
those bytes (re-encoded by orjson, as our API encodes them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

RESPONSES_ENV = "BENCH_RAW_RESPONSES"


def request_key(payload: Any) -> bytes:
    """What identifies a GraphQL request: its document and variables."""
    if not isinstance(payload, dict):
        return b""
    return orjson.dumps(
        [payload.get("query"), payload.get("variables") or {}], option=orjson.OPT_SORT_KEYS
    )


def save_responses(path: Path, pairs: list[tuple[dict[str, Any], bytes]]) -> None:
    """Write (request payload, response body) pairs for `create_app` to serve."""
    entries = [{"request": request, "response": orjson.loads(body)} for request, body in pairs]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(entries))


def load_responses(path: Path) -> dict[bytes, bytes]:
    entries = orjson.loads(path.read_bytes())
    return {request_key(e["request"]): orjson.dumps(e["response"]) for e in entries}


def create_app() -> Starlette:
    responses = load_responses(Path(os.environ[RESPONSES_ENV]))

    async def graphql(request: Request) -> Response:
        body = responses.get(request_key(orjson.loads(await request.body())))
        if body is None:
            return Response(b'{"errors":[{"message":"not precomputed"}]}', 404)
        return Response(body, media_type="application/json")

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/ready", ready)])
