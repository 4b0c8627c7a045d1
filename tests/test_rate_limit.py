"""Named API keys and cost-based rate limits, through real servers and a real Redis.

Budgets live in Redis under each test's own namespace. The budget used is
small (6 cost units per minute: one unit comes back every 10 s), so a test
spends it in a few requests and nothing refills meanwhile. Operation costs
(graph/cost, tests/test_cost.py): `match(matchId:) { matchId }` 1, with
`prediction { probaHome }` 2, `matches(first: n) { edges { node { matchId } } }`
1 + 2n, `predictMatch` 100 (more than the whole budget: charged all of it).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from api.auth import ApiKeys
from api.rate_limit import TrustedProxies
from graph.ratelimit.limiter import Partition, RateLimiter
from graph.settings import Settings
from graph.taskqueue.names import RedisNames
from tests import datasets
from tests.fixtures.server import LiveServer, ProcessFactory, ServeFactory
from tests.fixtures.worker import OwnRedis
from tests.fixtures.ws import LEGACY_WS, TRANSPORT_WS

WEB, NOTEBOOK = "web-key-0123456789", "notebook-key-9876543210"
KEYS = f"web:{WEB},notebook:{NOTEBOOK}"
BUDGET = 6
ONE = "{ match(matchId: 1) { matchId } }"  # cost 1
TWO = "{ match(matchId: 1) { prediction { probaHome } } }"  # cost 2
FIVE = "{ matches(first: 2) { edges { node { matchId } } } }"  # cost 5
PREDICT = "mutation { predictMatch(matchId: 1) { id } }"  # cost 100
POLICY = f'"cost";q={BUDGET};w=60'
RATELIMIT = re.compile(r'^"cost";r=(\d+);t=(\d+)$')
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rate-limit")
    datasets.write_set(root, 50)
    return root


@pytest.fixture
def namespace() -> Iterator[str]:
    """A Redis namespace of this test's own on the shared Redis; its keys go afterwards."""
    name = f"ratelimit-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        for key in client.scan_iter(match=f"{name}*"):
            client.delete(key)
    finally:
        client.close()


def keyed(serve: ServeFactory, data_dir: Path, namespace: str, **overrides: Any) -> LiveServer:
    return serve(
        data_dir=data_dir,
        api_keys=KEYS,
        rate_limit_cost_per_minute=BUDGET,
        redis_namespace=namespace,
        **overrides,
    )


def open_api(serve: ServeFactory, data_dir: Path, namespace: str, **overrides: Any) -> LiveServer:
    # No response cache: a repeated query would be a hit, charged 1.
    return serve(
        data_dir=data_dir,
        rate_limit_cost_per_minute=BUDGET,
        redis_namespace=namespace,
        response_cache_mb=0,
        **overrides,
    )


async def post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers or {})


def remaining(response: httpx.Response) -> int:
    """`r` of the RateLimit header (which must be there, well formed)."""
    assert response.headers["ratelimit-policy"] == POLICY
    match = RATELIMIT.match(response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    return int(match.group(1))


def assert_rate_limited(response: httpx.Response) -> int:
    """A 429 as documented; its Retry-After."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == retry_after
    assert response.headers["ratelimit"] == f'"cost";r=0;t={retry_after}'
    assert response.headers["ratelimit-policy"] == POLICY
    return retry_after


async def scrape(api: LiveServer) -> tuple[str, Samples]:
    async with httpx.AsyncClient(base_url=api.url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return response.text, samples


def count(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


CHARGED, REFUSED = "matchgraph_rate_limit_charged_total", "matchgraph_rate_limited_total"
STORE_ERRORS = "matchgraph_rate_limit_store_errors_total"


# --- named keys -----------------------------------------------------------------------------


def test_a_credential_is_matched_to_its_key_name() -> None:
    keys = ApiKeys(Settings(api_keys=KEYS, header_token="old-header", query_token="old-query"))
    assert keys.names == ("web", "notebook", "header", "query")
    assert keys.scope_of(WEB, None) == keys.scope_of(None, WEB) == "web"
    assert keys.scope_of(None, NOTEBOOK) == "notebook"
    # The old keys keep their old place.
    assert keys.scope_of("old-header", None) == "header"
    assert keys.scope_of(None, "old-header") is None
    assert keys.scope_of(None, "old-query") == "query"
    assert keys.scope_of("old-query", None) is None
    assert keys.scope_of("nope", "nope") is None and keys.scope_of(None, None) is None
    assert keys.scope_of_params({"X-API-Key": NOTEBOOK}) == "notebook"
    assert ApiKeys(Settings()).scope_of(None, None) == "open"


async def test_named_keys_pass_a_wrong_one_is_401_and_metrics_name_the_key(
    serve: ServeFactory, data_dir: Path, namespace: str
) -> None:
    api = keyed(serve, data_dir, namespace)
    _, before = await scrape(api)
    async with httpx.AsyncClient(base_url=api.url) as client:
        by_header = await post(client, ONE, {"X-API-Key": WEB})
        by_token = await client.post(f"/graphql?token={NOTEBOOK}", json={"query": ONE})
        wrong = await post(client, ONE, {"X-API-Key": WEB + "x"})
    assert by_header.status_code == by_token.status_code == 200
    assert by_header.json()["data"]["match"]["matchId"] == 1
    assert remaining(by_header) == remaining(by_token) == BUDGET - 1  # one budget each
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    text, after = await scrape(api)
    for name in ("web", "notebook"):
        assert count(after, CHARGED, key=name) - count(before, CHARGED, key=name) == 1
    assert WEB not in text and NOTEBOOK not in text


# --- the budget over HTTP -------------------------------------------------------------------


async def test_a_spent_budget_is_429_and_nothing_executes(
    serve: ServeFactory, data_dir: Path, namespace: str
) -> None:
    """predictMatch enqueues a job in Redis: the queue's length shows what executed."""
    api = keyed(serve, data_dir, namespace)
    queue = RedisNames(namespace).short_queue
    control = redis.Redis(host="127.0.0.1", port=6379)
    _, before = await scrape(api)
    try:
        async with httpx.AsyncClient(base_url=api.url) as client:
            first = await post(client, PREDICT, {"X-API-Key": WEB})
            assert first.status_code == 200, first.text
            assert first.json()["data"]["predictMatch"]["id"]
            assert remaining(first) == 0  # 100 is over the budget: charged all of it
            assert control.zcard(queue) == 1

            second = await post(client, PREDICT, {"X-API-Key": WEB})
            retry_after = assert_rate_limited(second)
            assert retry_after <= 60
            assert control.zcard(queue) == 1  # refused before anything executed

            # Another key has a budget of its own.
            other = await post(client, PREDICT, {"X-API-Key": NOTEBOOK})
            assert other.status_code == 200 and control.zcard(queue) == 2
    finally:
        for job in control.zrange(queue, 0, -1):
            control.delete(b"arq:job:" + job)
        control.close()
    _, after = await scrape(api)
    assert count(after, REFUSED, key="web") - count(before, REFUSED, key="web") == 1
    assert count(after, CHARGED, key="web") - count(before, CHARGED, key="web") == BUDGET
    errors = "matchgraph_graphql_errors_total"
    assert count(after, errors, code="RATE_LIMITED") > count(before, errors, code="RATE_LIMITED")


async def test_every_response_carries_the_headers_and_a_cache_hit_costs_one(
    serve: ServeFactory, data_dir: Path, namespace: str
) -> None:
    api = keyed(serve, data_dir, namespace)
    web = {"X-API-Key": WEB}
    _, before = await scrape(api)
    async with httpx.AsyncClient(base_url=api.url) as client:
        miss = await post(client, ONE, web)
        hit = await post(client, ONE, web)
        assert miss.headers["x-matchgraph-cache"] == "miss"
        assert hit.headers["x-matchgraph-cache"] == "hit"
        assert remaining(miss) == BUDGET - 1 and remaining(hit) == BUDGET - 2
        dry = await post(client, FIVE, {**web, "X-Matchgraph-Cost-Only": "1"})
        assert dry.json() == {"extensions": {"cost": {"estimated": 5, "limit": 200_000}}}
        assert remaining(dry) == BUDGET - 3  # a dry run is charged 1, not its estimate
        malformed = await client.post("/graphql", content=b"[", headers=web)
        assert malformed.status_code == 400
        assert remaining(malformed) == BUDGET - 3  # shown, not charged
        unparsable = await post(client, "{ match(", web)
        assert unparsable.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        assert remaining(unparsable) == BUDGET - 4  # it never executed, and costs 1
        spend = await post(client, TWO, web)
        assert spend.status_code == 200 and remaining(spend) == 0
        assert spend.json()["extensions"]["cost"]["estimated"] == 2
        # The budget is spent: even a cached answer is refused now.
        refused_hit = await post(client, ONE, web)
        assert_rate_limited(refused_hit)
        assert "x-matchgraph-cache" not in refused_hit.headers
    _, after = await scrape(api)
    assert count(after, CHARGED, key="web") - count(before, CHARGED, key="web") == BUDGET
    assert count(after, REFUSED, key="web") - count(before, REFUSED, key="web") == 1


async def test_two_api_processes_share_one_budget(
    serve_process: ProcessFactory, data_dir: Path, namespace: str, tmp_path: Path
) -> None:
    env = {
        "MATCHGRAPH_DATA_DIR": str(data_dir),
        "MATCHGRAPH_API_KEYS": KEYS,
        "MATCHGRAPH_RATE_LIMIT_COST_PER_MINUTE": str(BUDGET),
        "MATCHGRAPH_REDIS_URL": "redis://127.0.0.1:6379/0",
        "MATCHGRAPH_REDIS_NAMESPACE": namespace,
    }
    first, second = (
        serve_process(
            {**env, "MATCHGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / f'{n}.sqlite'}"},
            headers={"X-API-Key": WEB},
        )
        for n in ("a", "b")
    )
    assert first.process.pid != second.process.pid
    async with first.client() as one, second.client() as two:
        spent = await post(one, FIVE)
        assert spent.status_code == 200 and remaining(spent) == 1
        # The other process has never seen this key: its budget is the one in Redis.
        assert_rate_limited(await post(two, FIVE))
        cheap = await post(two, ONE)
        assert cheap.status_code == 200 and remaining(cheap) == 0
        assert_rate_limited(await post(one, ONE))
        # Another key's budget is untouched on both.
        notebook = await post(two, FIVE, {"X-API-Key": NOTEBOOK})
        assert notebook.status_code == 200 and remaining(notebook) == 1


# --- the open service: per client address --------------------------------------------------


def test_forwarded_addresses_are_believed_only_from_trusted_proxies() -> None:
    none = TrustedProxies([])
    assert none.client_address("10.0.0.5", ["203.0.113.9"]) == "10.0.0.5"
    proxies = TrustedProxies(["10.0.0.0/8", "192.0.2.1"])
    assert proxies.client_address("10.0.0.5", ["203.0.113.9"]) == "203.0.113.9"
    # The right-most hop no trusted proxy vouches for: a client prepending its own is ignored.
    chain = ["198.51.100.1, 203.0.113.9", "192.0.2.1"]
    assert proxies.client_address("10.0.0.5", chain) == "203.0.113.9"
    assert proxies.client_address("203.0.113.7", ["198.51.100.1"]) == "203.0.113.7"
    # Every hop a proxy: the left-most one; a hop that is no address stops the walk.
    assert proxies.client_address("10.0.0.5", ["10.1.1.1"]) == "10.1.1.1"
    assert proxies.client_address("10.0.0.5", ["junk, 10.1.1.1"]) == "10.1.1.1"
    assert proxies.client_address("10.0.0.5", []) == "10.0.0.5"
    assert proxies.client_address("::ffff:10.0.0.5", ["203.0.113.9"]) == "203.0.113.9"
    with pytest.raises(ValueError, match="MATCHGRAPH_TRUSTED_PROXIES: 'ingress'"):
        TrustedProxies(["10.0.0.0/8", "ingress"])


async def test_an_open_service_budgets_per_client_address(
    serve: ServeFactory, data_dir: Path, namespace: str
) -> None:
    alice, bob = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}
    untrusting = open_api(serve, data_dir, namespace + "-a")
    trusting = open_api(serve, data_dir, namespace, trusted_proxies="127.0.0.1/32")
    _, before = await scrape(trusting)
    async with httpx.AsyncClient(base_url=untrusting.url) as client:
        # Not a trusted proxy: the header is the client's word, and the peer pays.
        assert (await post(client, FIVE, alice)).status_code == 200
        assert_rate_limited(await post(client, FIVE, bob))
    async with httpx.AsyncClient(base_url=trusting.url) as client:
        assert (await post(client, FIVE, alice)).status_code == 200
        assert (await post(client, FIVE, bob)).status_code == 200  # a budget of its own
        assert_rate_limited(await post(client, FIVE, alice))
        # Prepending a fresh address does not buy a fresh budget.
        spoofed = {"X-Forwarded-For": "192.0.2.44, 203.0.113.9"}
        assert_rate_limited(await post(client, FIVE, spoofed))
    text, after = await scrape(trusting)
    charged = count(after, CHARGED, key="address") - count(before, CHARGED, key="address")
    assert charged == 3 * 5  # both servers share this process's metrics
    assert "203.0.113.9" not in text and "198.51.100.7" not in text
    control = redis.Redis(host="127.0.0.1", port=6379)
    try:
        stored = {key.decode() for key in control.scan_iter(match=f"{namespace}:rate-limit:*")}
    finally:
        control.close()
    names = RedisNames(namespace)
    assert stored == {names.rate_limit_key(f"address:{a}") for a in ("203.0.113.9", "198.51.100.7")}


# --- subscriptions --------------------------------------------------------------------------


async def _recv(ws: Any) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame["type"] not in ("ping", "pong", "ka"):
            return frame


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_subscription_is_charged_at_subscribe_and_refused_over_budget(
    serve: ServeFactory, data_dir: Path, namespace: str, protocol: str
) -> None:
    api = keyed(serve, data_dir, namespace)
    start = "subscribe" if protocol == TRANSPORT_WS else "start"
    subscription = {"query": "subscription { dataUpdated { dataVersion } }"}  # cost 1
    _, before = await scrape(api)
    async with websockets.connect(api.ws_url, subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": WEB}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": start, "payload": subscription}))
        first = await _recv(ws)
        assert first["id"] == "1" and first["payload"]["data"]["dataUpdated"]["dataVersion"]
        _, charged = await scrape(api)
        assert count(charged, CHARGED, key="web") - count(before, CHARGED, key="web") == 1

        async with httpx.AsyncClient(base_url=api.url) as client:
            spend = await post(client, FIVE, {"X-API-Key": WEB})
        assert spend.status_code == 200 and remaining(spend) == 0

        await ws.send(json.dumps({"id": "2", "type": start, "payload": subscription}))
        refusal = await _recv(ws)
        assert refusal["id"] == "2", refusal
        payload = refusal["payload"]
        errors = payload if isinstance(payload, list) else payload.get("errors", [payload])
        assert errors[0]["extensions"]["code"] == "RATE_LIMITED", refusal
        assert errors[0]["extensions"]["retryAfter"] >= 1
        await asyncio.wait_for(await ws.ping(), 30)  # the connection stays open
    _, after = await scrape(api)
    assert count(after, REFUSED, key="web") - count(before, REFUSED, key="web") == 1


async def test_an_sse_subscription_is_refused_over_budget(
    serve: ServeFactory, data_dir: Path, namespace: str
) -> None:
    api = keyed(serve, data_dir, namespace)
    body = {"query": "subscription { dataUpdated { dataVersion } }"}
    async with httpx.AsyncClient(base_url=api.url, headers={"X-API-Key": WEB}) as client:
        assert remaining(await post(client, FIVE)) == 1
        assert remaining(await post(client, ONE)) == 0
        stream_headers = {"Accept": "text/event-stream"}
        async with client.stream(
            "POST", "/graphql/stream", json=body, headers=stream_headers
        ) as stream:
            assert stream.status_code == 200
            lines = [line async for line in stream.aiter_lines()]
    events = [
        json.loads(line[5:]) for line in lines if line.startswith("data:") and line[5:].strip()
    ]
    (error,) = events[0]["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", lines
    assert "event: complete" in lines


# --- the store ------------------------------------------------------------------------------


async def test_the_budget_is_one_gcra_key_per_partition_that_expires(namespace: str) -> None:
    client = Redis(host="127.0.0.1", port=6379)
    charges: list[tuple[str, int]] = []
    limiter = RateLimiter(
        client,
        names=RedisNames(namespace),
        per_minute=BUDGET,
        on_charge=lambda key, units: charges.append((key, units)),
    )
    web = Partition.key("web")
    try:
        first = await limiter.charge(web, 4)
        assert (first.allowed, first.charged, first.remaining) == (True, 4, 2)
        assert 39 < first.reset_after <= 40  # 4 units of 10 s each to come back
        over = await limiter.charge(web, 3)
        assert (over.allowed, over.charged, over.remaining) == (False, 0, 2)
        assert 0 < over.retry_after <= 10
        rest = await limiter.charge(web, 2)
        assert (rest.allowed, rest.remaining) == (True, 0)
        key = RedisNames(namespace).rate_limit_key("key:web")
        assert 50_000 < await client.pttl(key) <= 60_000  # gone once the budget is full again
        whole = await limiter.charge(Partition.key("notebook"), 100)
        assert (whole.allowed, whole.charged, whole.remaining) == (True, BUDGET, 0)
        assert (await limiter.peek(web)).remaining == 0
        assert charges == [("web", 4), ("web", 2), ("notebook", BUDGET)]
        # A huge budget: a unit is a fraction of Redis's microsecond; still a valid expiry.
        errors: list[int] = []
        huge = RateLimiter(
            client,
            names=RedisNames(namespace),
            per_minute=10**9,
            on_store_error=lambda: errors.append(1),
        )
        assert all([(await huge.charge(Partition.key("huge"), 1)).known for _ in range(3)])
        assert errors == []
    finally:
        await client.aclose()


async def test_concurrent_charges_share_round_trips_and_survive_a_lost_script(
    own_redis: OwnRedis,
) -> None:
    """Charges made in the same loop turn go to Redis as one pipeline (graph/ratelimit/
    coalesce.py), each with its own verdict; a server that lost the script (SCRIPT FLUSH,
    a restart) gets it again and the charges still count, exactly once."""
    client = Redis.from_url(own_redis.url)
    limiter = RateLimiter(client, names=RedisNames("coalesce"), per_minute=600)
    web = Partition.key("web")
    try:
        verdicts = await asyncio.gather(*(limiter.charge(web, 10) for _ in range(40)))
        assert [v.allowed for v in verdicts] == [True] * 40
        assert sorted(v.remaining for v in verdicts) == list(range(200, 600, 10))
        assert limiter._script.round_trips < 40  # one per loop turn, not one per charge

        await client.script_flush()
        again = await asyncio.gather(*(limiter.charge(web, 10) for _ in range(25)))
        assert [v.known for v in again] == [True] * 25  # reloaded, not failed open
        assert [v.allowed for v in again] == [True] * 20 + [False] * 5
        assert (await limiter.peek(web)).remaining == 0
    finally:
        await client.aclose()


async def test_redis_down_fails_open_and_counts(
    serve: ServeFactory, data_dir: Path, namespace: str, own_redis: OwnRedis
) -> None:
    api = keyed(serve, data_dir, namespace, redis_url=own_redis.url, response_cache_mb=0)
    web = {"X-API-Key": WEB}
    _, before = await scrape(api)
    async with httpx.AsyncClient(base_url=api.url) as client:
        up = await post(client, ONE, web)
        assert up.status_code == 200 and remaining(up) == BUDGET - 1
        own_redis.kill()
        for _ in range(3):  # over budget by now, were the store there
            down = await post(client, FIVE, web)
            assert down.status_code == 200, down.text
            assert down.json()["data"]["matches"]["edges"]
            assert down.headers["ratelimit-policy"] == POLICY
            assert "ratelimit" not in down.headers  # no count to show
        _, during = await scrape(api)
        assert count(during, STORE_ERRORS) - count(before, STORE_ERRORS) >= 1
        own_redis.start()  # back (empty): budgets are counted again
        deadline = asyncio.get_running_loop().time() + 30
        while "ratelimit" not in (back := await post(client, ONE, web)).headers:
            assert asyncio.get_running_loop().time() < deadline, "the limiter never came back"
            await asyncio.sleep(0.2)
        assert remaining(back) == BUDGET - 1
