"""Persisted documents (api/persisted) against the real API, real Redis and real processes:
automatic persisted queries over POST and GET, registrations shared by two API
processes, a Redis outage, trusted-document manifests and MATCHGRAPH_PERSISTED_ONLY on
every transport."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets

from api import metrics
from api.app import create_app
from api.persisted.manifest import ManifestError
from api.persisted.protocol import sha256_hex
from api.persisted.registry import ApqRegistry
from graph.settings import Settings
from tests import datasets
from tests.fixtures.ports import free_port
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.sse import EVENT_STREAM, collect
from tests.fixtures.worker import OwnRedis, redis_url
from tests.fixtures.ws import LEGACY_WS, TRANSPORT_WS

GRAPHQL_RESPONSE = "application/graphql-response+json"
LISTED = "query Listed($f: Int!) { matches(first: $f) { totalCount } }"
ALSO_LISTED = "query AlsoListed { matches(first: 1) { edges { node { matchId } } } }"
UNLISTED = "query Unlisted { matches(first: 2) { totalCount } }"
# The legacy graphql-ws protocol runs subscriptions only: an unknown task's answers at once.
SUBSCRIPTION = 'subscription Followed { task(id: "no-such-task") { status } }'
UNLISTED_SUBSCRIPTION = 'subscription NotFollowed { task(id: "no-such-task") { status } }'
KEY = "persisted-test-key"


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("persisted-small")
    datasets.write_set(root, 200)
    return root


@pytest.fixture
def namespace() -> str:
    """A Redis namespace of this test's own: its registrations are its own."""
    return f"persisted-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def apq(serve: ServeFactory, small_dir: Path, redis_db: int, namespace: str) -> LiveServer:
    return serve(
        data_dir=small_dir,
        redis_url=redis_url(redis_db),
        redis_namespace=namespace,
        apq_ttl_seconds=600,
    )


def persisted(document: str | None = None, *, digest: str | None = None) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest or sha256_hex(document or "")}}


def query_doc(tag: str) -> str:
    """A document no other test sends (its alias), so its hash is fresh."""
    return f"query Page{tag}($f: Int!) {{ m{tag}: matches(first: $f) {{ totalCount }} }}"


async def post(server: LiveServer, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    async with server.client() as client:
        return await client.post("/graphql", json=body, **kwargs)


async def get(server: LiveServer, params: dict[str, Any], **kwargs: Any) -> httpx.Response:
    async with server.client() as client:
        return await client.get("/graphql", params=params, **kwargs)


def code_of(response: httpx.Response) -> str | None:
    body = response.json()
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def counted(outcome: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "matchgraph_persisted_queries_total", {"outcome": outcome}
    )
    return value or 0.0


def store_errors() -> float:
    value = metrics.REGISTRY.get_sample_value("matchgraph_persisted_query_store_errors_total")
    return value or 0.0


def stored(settings: Settings, digest: str) -> tuple[bytes | None, int]:
    """The document Redis holds under `digest`, and its TTL."""
    client = redis.Redis.from_url(settings.redis_url)
    try:
        key = settings.redis_names.persisted_query_prefix + digest
        return client.get(key), client.ttl(key)
    finally:
        client.close()


# -- automatic persisted queries ----------------------------------------------------------


async def test_apq_round_trip_over_post(apq: LiveServer) -> None:
    document = query_doc("Post")
    body = {"variables": {"f": 3}, "extensions": persisted(document)}
    before = {o: counted(o) for o in ("not_found", "registered", "hit")}

    unknown = await post(apq, body)
    assert unknown.status_code == 200
    error = unknown.json()["errors"][0]
    assert error["message"] == "PersistedQueryNotFound"  # what Apollo's links look for
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert stored(apq.settings, sha256_hex(document)) == (None, -2)

    registering = await post(apq, {**body, "query": document})
    assert registering.status_code == 200 and "errors" not in registering.json()
    data = registering.json()["data"]
    assert data == {"mPost": {"totalCount": 200}}
    text, ttl = stored(apq.settings, sha256_hex(document))
    assert text == document.encode() and 0 < ttl <= 600

    by_hash = await post(apq, body)
    assert by_hash.status_code == 200 and by_hash.json()["data"] == data
    assert counted("not_found") - before["not_found"] == 1
    assert counted("registered") - before["registered"] == 1
    assert counted("hit") - before["hit"] == 1


async def test_apq_over_get_is_answered_from_the_response_cache(apq: LiveServer) -> None:
    document = query_doc("Get")
    variables = json.dumps({"f": 4})
    by_hash = {"variables": variables, "extensions": json.dumps(persisted(document))}

    unknown = await get(apq, by_hash)
    assert unknown.status_code == 200 and code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.headers["cache-control"] == "no-store"
    assert "x-matchgraph-cache" not in unknown.headers

    # The document as a GET (stored in the response cache), with its hash: registered.
    with_document = await get(apq, {**by_hash, "query": document})
    assert with_document.status_code == 200, with_document.text
    assert with_document.headers["x-matchgraph-cache"] == "miss"

    # By hash alone: the same cache entry as the GET with the document.
    hit = await get(apq, by_hash)
    assert hit.status_code == 200 and hit.headers["x-matchgraph-cache"] == "hit"
    assert hit.json() == with_document.json()
    assert hit.json()["data"] == {"mGet": {"totalCount": 200}}
    # documentId names a registered document too (GraphQL over HTTP's parameter).
    by_id = await get(apq, {"variables": variables, "documentId": f"sha256:{sha256_hex(document)}"})
    assert by_id.headers["x-matchgraph-cache"] == "hit" and by_id.json() == hit.json()


async def test_a_hash_that_is_not_the_documents_is_refused(apq: LiveServer) -> None:
    document, other = query_doc("Mis"), query_doc("Other")
    body = {"query": document, "variables": {"f": 1}, "extensions": persisted(other)}
    before = counted("mismatch")
    refused = await post(apq, body)
    assert refused.status_code == 200 and code_of(refused) == "BAD_USER_INPUT"
    assert refused.json()["errors"][0]["message"] == "provided sha does not match query"
    assert refused.json()["data"] is None
    # Under the GraphQL-over-HTTP media type: a request error, 400 without `data`.
    strict = await post(apq, body, headers={"accept": GRAPHQL_RESPONSE})
    assert strict.status_code == 400 and "data" not in strict.json()
    assert counted("mismatch") - before == 2
    for digest in (sha256_hex(document), sha256_hex(other)):
        assert stored(apq.settings, digest)[0] is None
        hashed = await post(apq, {"variables": {"f": 1}, "extensions": persisted(digest=digest)})
        assert code_of(hashed) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("query Broken { matches(first: 1) { totalCount }", "GRAPHQL_PARSE_FAILED"),
        ("query Invalid { matches(first: 1) { noSuchField } }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_a_document_that_does_not_validate_is_never_registered(
    apq: LiveServer, document: str, code: str
) -> None:
    before = counted("registered")
    sent = await post(apq, {"query": document, "extensions": persisted(document)})
    assert code_of(sent) == code
    assert stored(apq.settings, sha256_hex(document))[0] is None
    again = await post(apq, {"extensions": persisted(document)})
    assert code_of(again) == "PERSISTED_QUERY_NOT_FOUND"
    assert counted("registered") == before


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}},
        {"persistedQuery": {"sha256Hash": "a" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
        {"persistedQuery": "yes"},
    ],
)
async def test_a_malformed_persisted_query_is_bad_user_input(
    apq: LiveServer, extensions: dict[str, Any]
) -> None:
    response = await post(apq, {"extensions": extensions})
    assert response.status_code == 200 and code_of(response) == "BAD_USER_INPUT"


async def test_a_registration_stays_within_the_document_size_limit(
    serve: ServeFactory, small_dir: Path, redis_db: int, namespace: str
) -> None:
    """Documents over MATCHGRAPH_MAX_BODY_BYTES run but are not stored (a GET can carry
    one: the body limit does not apply to the URL)."""
    server = serve(
        data_dir=small_dir,
        redis_url=redis_url(redis_db),
        redis_namespace=namespace,
        max_body_bytes=1024,
    )
    big = "# " + "x" * 1500 + "\n" + query_doc("Big")  # a comment: it still validates
    small = query_doc("Small")
    for document, name in ((big, "mBig"), (small, "mSmall")):
        params = {
            "query": document,
            "variables": json.dumps({"f": 1}),
            "extensions": json.dumps(persisted(document)),
        }
        sent = await get(server, params)
        assert sent.json()["data"] == {name: {"totalCount": 200}}, sent.text
    assert stored(server.settings, sha256_hex(big))[0] is None
    assert stored(server.settings, sha256_hex(small))[0] == small.encode()


# -- two API processes, one Redis ---------------------------------------------------------


@pytest.fixture
def two_processes(
    tmp_path: Path, small_dir: Path, redis_db: int, namespace: str
) -> Iterator[list[str]]:
    """Two `matchgraph serve` processes on one Redis database and namespace."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    urls = []
    for index in range(2):
        port = free_port()
        env = {
            **os.environ,
            "MATCHGRAPH_DATA_DIR": str(small_dir),
            "MATCHGRAPH_REDIS_URL": redis_url(redis_db),
            "MATCHGRAPH_REDIS_NAMESPACE": namespace,
            "MATCHGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / f'live{index}.sqlite'}",
            "MATCHGRAPH_PORT": str(port),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = tmp_path / f"serve{index}.log"
        command = [sys.executable, "-m", "api.cli", "serve"]
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        processes.append((process, log))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for (process, log), url in zip(processes, urls, strict=True):
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                try:
                    if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        yield urls
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


async def test_two_api_processes_share_registrations(two_processes: list[str]) -> None:
    first, second = two_processes
    document = query_doc("Shared")
    by_hash = {"variables": {"f": 2}, "extensions": persisted(document)}
    async with httpx.AsyncClient(timeout=30) as client:
        unknown = await client.post(f"{second}/graphql", json=by_hash)
        assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
        registered = await client.post(f"{first}/graphql", json={**by_hash, "query": document})
        assert registered.json()["data"] == {"mShared": {"totalCount": 200}}
        # The other process never saw the document: it knows it from Redis.
        hit = await client.post(f"{second}/graphql", json=by_hash)
        assert hit.status_code == 200 and hit.json() == registered.json()
        scraped = (await client.get(f"{second}/metrics")).text
    assert 'matchgraph_persisted_queries_total{outcome="hit"} 1.0' in scraped
    assert 'matchgraph_persisted_queries_total{outcome="not_found"} 1.0' in scraped


# -- Redis down ---------------------------------------------------------------------------


async def test_redis_down_is_not_found_and_the_document_still_runs(
    serve: ServeFactory, small_dir: Path, own_redis: OwnRedis, namespace: str
) -> None:
    server = serve(data_dir=small_dir, redis_url=own_redis.url, redis_namespace=namespace)
    known = query_doc("Known")
    body = {"query": known, "variables": {"f": 1}, "extensions": persisted(known)}
    assert "errors" not in (await post(server, body)).json()
    assert stored(server.settings, sha256_hex(known))[0] == known.encode()
    own_redis.kill()

    errors_before = store_errors()
    fresh = query_doc("WhileDown")
    by_hash = {"variables": {"f": 1}, "extensions": persisted(fresh)}
    unknown = await post(server, by_hash)
    assert unknown.status_code == 200 and code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert store_errors() - errors_before == 1  # the read failed
    # What the client does next: the document with its hash. It runs.
    retried = await post(server, {**by_hash, "query": fresh})
    assert retried.status_code == 200 and retried.json()["data"] == {
        "mWhileDown": {"totalCount": 200}
    }
    assert store_errors() - errors_before == 2  # the registration failed too
    # A document this process registered earlier is still served from its own memory.
    hit = await post(server, {"variables": {"f": 1}, "extensions": persisted(known)})
    assert hit.json()["data"] == {"mKnown": {"totalCount": 200}}


# -- trusted documents --------------------------------------------------------------------


def apollo_manifest(path: Path, *documents: tuple[str, str]) -> Path:
    operations = [
        {"id": sha256_hex(body), "name": name, "type": "query", "body": body}
        for name, body in documents
    ]
    manifest = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    path.write_text(json.dumps(manifest))
    return path


def codegen_manifest(path: Path, *documents: str) -> Path:
    path.write_text(json.dumps({sha256_hex(body): body for body in documents}))
    return path


@pytest.fixture
def manifests(tmp_path: Path) -> dict[str, Path]:
    return {
        "apollo": apollo_manifest(
            tmp_path / "apollo.json", ("Listed", LISTED), ("AlsoListed", ALSO_LISTED)
        ),
        "codegen": codegen_manifest(
            tmp_path / "persisted-documents.json", LISTED, ALSO_LISTED, SUBSCRIPTION
        ),
    }


@pytest.mark.parametrize("kind", ["apollo", "codegen"])
async def test_a_manifest_serves_its_documents_by_hash_and_by_document_id(
    serve: ServeFactory,
    small_dir: Path,
    redis_db: int,
    namespace: str,
    manifests: dict[str, Path],
    kind: str,
) -> None:
    server = serve(
        data_dir=small_dir,
        redis_url=redis_url(redis_db),
        redis_namespace=namespace,
        persisted_documents=manifests[kind],
    )
    digest = sha256_hex(LISTED)
    expected = {"matches": {"totalCount": 200}}
    variables = {"f": 1}
    by_hash = await post(server, {"variables": variables, "extensions": persisted(LISTED)})
    assert by_hash.json() == {"data": expected, "extensions": by_hash.json()["extensions"]}
    for document_id in (f"sha256:{digest}", digest, digest.upper()):
        by_id = await post(server, {"documentId": document_id, "variables": variables})
        assert by_id.json()["data"] == expected, by_id.text
    over_get = await get(
        server, {"documentId": f"sha256:{digest}", "variables": json.dumps(variables)}
    )
    assert over_get.json()["data"] == expected
    # An id the manifest does not hold, with no APQ registration either.
    unknown = await post(server, {"documentId": f"sha256:{sha256_hex(UNLISTED)}"})
    assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    # Not persisted-only: other documents still run.
    assert (await post(server, {"query": UNLISTED})).json()["data"] == expected


def test_a_bad_manifest_stops_the_start(tmp_path: Path, small_dir: Path) -> None:
    bad = tmp_path / "bad.json"
    cases = {
        "not JSON": "{",
        'needs "format"': json.dumps({"format": "something-else", "operations": []}),
        "not the SHA-256 of its document": json.dumps({"a" * 64: LISTED}),
        "does not parse": json.dumps({"my-id": "query {"}),
        "must be a string": json.dumps({"my-id": 3}),
    }
    for message, content in cases.items():
        bad.write_text(content)
        with pytest.raises(ManifestError, match=message) as raised:
            create_app(Settings(data_dir=small_dir, persisted_documents=bad))
        assert str(bad) in str(raised.value)
    with pytest.raises(ManifestError, match="cannot read"):
        create_app(Settings(data_dir=small_dir, persisted_documents=tmp_path / "missing.json"))


@pytest.fixture
def persisted_only(
    serve: ServeFactory, small_dir: Path, redis_db: int, namespace: str, manifests: dict[str, Path]
) -> LiveServer:
    return serve(
        data_dir=small_dir,
        redis_url=redis_url(redis_db),
        redis_namespace=namespace,
        persisted_documents=manifests["codegen"],
        persisted_only=True,
    )


async def test_persisted_only_refuses_other_documents_over_http(persisted_only: LiveServer) -> None:
    server = persisted_only
    before = counted("refused")
    for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE, 400)):
        refused = await post(server, {"query": UNLISTED}, headers={"accept": accept})
        assert refused.status_code == status and code_of(refused) == "PERSISTED_QUERY_REQUIRED"
    over_get = await get(server, {"query": UNLISTED})
    assert code_of(over_get) == "PERSISTED_QUERY_REQUIRED"
    # Refused before the response cache: a cached answer is no way around it.
    assert "x-matchgraph-cache" not in over_get.headers
    assert counted("refused") - before == 3
    # The listed ones run, by id or sent in full.
    listed = await post(server, {"query": LISTED, "variables": {"f": 1}})
    assert listed.json()["data"] == {"matches": {"totalCount": 200}}
    by_id = await post(server, {"documentId": sha256_hex(ALSO_LISTED)})
    assert len(by_id.json()["data"]["matches"]["edges"]) == 1


async def test_persisted_only_registers_nothing(persisted_only: LiveServer) -> None:
    server = persisted_only
    body = {"query": UNLISTED, "extensions": persisted(UNLISTED)}
    assert code_of(await post(server, body)) == "PERSISTED_QUERY_REQUIRED"
    assert code_of(await post(server, {"extensions": persisted(UNLISTED)})) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    client = redis.Redis.from_url(server.settings.redis_url)
    try:
        prefix = server.settings.redis_names.persisted_query_prefix
        assert list(client.scan_iter(match=f"{prefix}*")) == []
    finally:
        client.close()


async def ws_operation(
    server: LiveServer, protocol: str, query: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every frame after the ack of one operation (keep-alives left out), until it ends."""
    frames = []
    async with websockets.connect(
        server.ws_url, subprotocols=[protocol], additional_headers=headers
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert ack["type"] == "connection_ack", ack
        start = "subscribe" if protocol == TRANSPORT_WS else "start"
        await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": query}}))
        async with asyncio.timeout(30):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "ka":  # the legacy protocol's keep-alive
                    continue
                frames.append(frame)
                if frame["type"] in ("complete", "error"):
                    return frames


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_persisted_only_refuses_other_documents_over_websocket(
    persisted_only: LiveServer, protocol: str
) -> None:
    refused = await ws_operation(persisted_only, protocol, UNLISTED_SUBSCRIPTION)
    assert refused[0]["type"] == "error", refused
    payload = refused[0]["payload"]
    errors = payload if isinstance(payload, list) else [payload]  # as each protocol sends it
    assert errors[0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED", refused
    listed = await ws_operation(persisted_only, protocol, SUBSCRIPTION)
    assert [frame["type"] for frame in listed][-1] == "complete", listed
    assert listed[0]["payload"]["data"] == {"task": {"status": "NOT_FOUND"}}


async def test_persisted_only_refuses_other_documents_over_sse(persisted_only: LiveServer) -> None:
    async with persisted_only.client() as client:
        for query, expect in ((UNLISTED, "refused"), (ALSO_LISTED, "runs")):
            body = {"query": query}
            async with client.stream(
                "POST", "/graphql/stream", json=body, headers=EVENT_STREAM
            ) as response:
                received = await collect(response)
            assert [event.event for event in received] == ["next", "complete"]
            result = received[0].data
            if expect == "refused":
                assert result["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
                assert not result.get("data")
            else:
                assert "errors" not in result and result["data"]["matches"]["edges"]


async def test_graphiql_keeps_working_in_local_mode_only(
    serve: ServeFactory,
    small_dir: Path,
    redis_db: int,
    namespace: str,
    manifests: dict[str, Path],
    persisted_only: LiveServer,
) -> None:
    """What a browser sends from our GraphiQL page (the API's own origin) runs in local
    mode; not in production, and not from elsewhere."""
    host = persisted_only.url.removeprefix("http://")
    page = {"origin": persisted_only.url, "sec-fetch-site": "same-origin"}
    assert persisted_only.settings.env == "local"
    from_page = await post(persisted_only, {"query": UNLISTED}, headers=page)
    assert from_page.json()["data"] == {"matches": {"totalCount": 200}}
    # Its subscriptions (graphql-transport-ws): the handshake carries the page's Origin.
    over_ws = await ws_operation(
        persisted_only, TRANSPORT_WS, UNLISTED, headers={"origin": f"http://{host}"}
    )
    assert over_ws[0]["type"] == "next" and over_ws[0]["payload"]["data"], over_ws
    other_site = {"origin": "http://elsewhere.example", "sec-fetch-site": "cross-site"}
    refused = await post(persisted_only, {"query": UNLISTED}, headers=other_site)
    assert code_of(refused) == "PERSISTED_QUERY_REQUIRED"

    production = serve(
        headers={"X-API-Key": KEY},
        data_dir=small_dir,
        redis_url=redis_url(redis_db),
        redis_namespace=namespace,
        persisted_documents=manifests["apollo"],
        persisted_only=True,
        env="production",
        header_token=KEY,
    )
    refused = await post(production, {"query": UNLISTED}, headers=page)
    assert code_of(refused) == "PERSISTED_QUERY_REQUIRED"
    listed = await post(production, {"query": LISTED, "variables": {"f": 1}}, headers=page)
    assert listed.json()["data"] == {"matches": {"totalCount": 200}}


async def test_registrations_in_redis_stay_within_their_byte_budget(
    redis_db: int, namespace: str
) -> None:
    """The oldest registrations go once the namespace's documents are over the budget."""
    settings = Settings(redis_url=redis_url(redis_db), redis_namespace=namespace)
    prefix = settings.redis_names.persisted_query_prefix
    registry = ApqRegistry(
        ApqRegistry.connect(settings.redis_url),
        prefix,
        ttl_seconds=600,
        cache_size=0,
        max_document_bytes=1000,
        budget_bytes=250,
    )
    documents = [
        f"query Q{i} {{ matches(first: {i}) {{ totalCount }} }}".ljust(100) for i in range(4)
    ]
    try:
        for document in documents:
            assert await registry.register(sha256_hex(document), document)
        known = [await registry.get(sha256_hex(document)) for document in documents]
    finally:
        await registry.aclose()
    assert known == [None, None, documents[2], documents[3]]
    client = redis.Redis.from_url(settings.redis_url)
    try:
        assert int(client.get(prefix + "bytes") or 0) == 200
        assert client.zcard(prefix + "index") == 2 and client.hlen(prefix + "sizes") == 2
        assert sorted(client.scan_iter(match=f"{prefix}*")) == sorted(
            (prefix + name).encode()
            for name in ("bytes", "index", "sizes", *(sha256_hex(d) for d in documents[2:]))
        )
    finally:
        client.close()
