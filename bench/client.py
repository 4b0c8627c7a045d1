"""Requests the harness sends, and the checks every response must pass.

A benchmark that measures error responses is worthless: every response is
checked for HTTP 200, no GraphQL errors and the expected number of rows.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bench.queries import graphql_payload, rest_cards_path
from bench.systems import BenchError, Server

CACHE_HEADER = "x-matchgraph-cache"
_nonces = itertools.count()


def fresh_nonce() -> str:
    """Unique within this harness run (and across runs, by the clock)."""
    return f"{time.time_ns()}-{next(_nonces)}"


def decode(response: httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise BenchError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
    return orjson.loads(response.content)


def check_graphql(
    response: httpx.Response, what: str, *, edges: int | None = None, cache: str | None = None
) -> dict[str, Any]:
    """The decoded body of a successful `matches` response."""
    body: dict[str, Any] = decode(response, what)
    if body.get("errors"):
        raise BenchError(f"{what}: GraphQL errors: {str(body['errors'])[:300]}")
    if edges is not None:
        got = len(body["data"]["matches"]["edges"])
        if got != edges:
            raise BenchError(f"{what}: {got} edges, expected {edges}")
    if cache is not None and response.headers.get(CACHE_HEADER) != cache:
        raise BenchError(
            f"{what}: {CACHE_HEADER} is {response.headers.get(CACHE_HEADER)!r}, expected {cache!r}"
        )
    return body


def check_rest(response: httpx.Response, what: str, *, rows: int) -> list[Any]:
    body = decode(response, what)
    if not isinstance(body, list) or len(body) != rows:
        got = len(body) if isinstance(body, list) else type(body).__name__
        raise BenchError(f"{what}: {got} cards, expected {rows}")
    return body


@dataclass
class Probe:
    """One way of asking one system for a page: send it, then check the answer."""

    label: str
    server: Server
    send: Callable[[httpx.Client], httpx.Response]
    check: Callable[[httpx.Response], object]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=120.0)

    def timed(self, client: httpx.Client) -> tuple[float, int]:
        """Seconds from sending the request to having the whole body, and its size.

        The checks run after the clock stops.
        """
        start = time.perf_counter()
        response = self.send(client)
        elapsed = time.perf_counter() - start
        self.check(response)
        return elapsed, len(response.content)


def graphql_probe(
    label: str,
    server: Server,
    query: str,
    first: int,
    *,
    edges: int,
    fresh: bool,
    cache: str | None = None,
) -> Probe:
    """POST `query`; `fresh` adds a new nonce each time (a response-cache miss)."""
    fixed = graphql_payload(query, first)

    def send(client: httpx.Client) -> httpx.Response:
        payload = graphql_payload(query, first, fresh_nonce()) if fresh else fixed
        return client.post("/graphql", json=payload)

    return Probe(
        label,
        server,
        send,
        lambda r: check_graphql(r, f"{label} first={first}", edges=edges, cache=cache),
    )


def rest_probe(label: str, server: Server, limit: int) -> Probe:
    path = rest_cards_path(limit)
    return Probe(
        label,
        server,
        lambda client: client.get(path),
        lambda r: check_rest(r, f"{label} limit={limit}", rows=limit),
    )


DEBUG_HEADERS = {"X-Matchgraph-Debug": "1"}  # our API adds extensions.loaderBatches


def post_graphql(
    server: Server,
    query: str,
    first: int,
    *,
    nonce: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request outside any measurement."""
    with httpx.Client(base_url=server.url, timeout=300.0) as client:
        payload = graphql_payload(query, first, nonce)
        return client.post("/graphql", json=payload, headers=headers)
