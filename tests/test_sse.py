"""GraphQL over Server-Sent Events at /graphql/stream (graphql-sse) on a real API over
real HTTP: both modes, status codes, auth, limits, keep-alives, and clean-up when the
client goes away. (The npm graphql-sse client itself: tests/test_js_clients.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import metrics
from tests import datasets
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.sse import EVENT_STREAM, TOKEN_HEADER, Event, collect, events, stream_endpoint

STREAM = "/graphql/stream"
QUERY = "{ matches(first: 2) { edges { node { matchId } } } }"
DATA_UPDATED = "subscription { dataUpdated { dataVersion changed } }"
UNKNOWN_TASK = 'subscription { task(id: "no-such-task") { status } }'
KEY, QUERY_KEY = "sse-header-key", "sse-query-key"


def data(payloads: list[dict[str, Any]]) -> list[Any]:
    """Each payload's `data` (results may carry extensions, e.g. their cost)."""
    return [payload["data"] for payload in payloads]


def active_subscriptions() -> float:
    return float(metrics.SUBSCRIPTIONS_ACTIVE._value.get())


async def until(check: Callable[[], bool], what: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def keyed(serve: ServeFactory, demo_dir: Path) -> LiveServer:
    return serve(
        data_dir=demo_dir, header_token=KEY, query_token=QUERY_KEY, headers={"X-API-Key": KEY}
    )


@pytest.fixture(scope="module")
def limited(serve: ServeFactory, demo_dir: Path) -> LiveServer:
    return serve(data_dir=demo_dir, max_subscriptions=2)


class Reserved:
    """A reservation and its open stream, read in the background."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client, self.token = client, token
        self.received: asyncio.Queue[Event] = asyncio.Queue()
        self.comments = 0
        self._reader: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()
        self.status: int | None = None

    async def _read(self) -> None:
        headers = {**EVENT_STREAM, TOKEN_HEADER: self.token}
        async with self.client.stream("GET", STREAM, headers=headers) as response:
            self.status = response.status_code
            self._opened.set()
            async for event in events(response):
                if event.event is None:
                    self.comments += 1
                else:
                    self.received.put_nowait(event)

    async def open(self) -> Reserved:
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), 30)
        assert self.status == 200
        return self

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self._reader

    async def submit(self, operation_id: str, query: str, **extra: Any) -> httpx.Response:
        body = {"query": query, "extensions": {"operationId": operation_id}, **extra}
        return await self.client.post(STREAM, json=body, headers={TOKEN_HEADER: self.token})

    async def next_event(self, within: float = 30) -> Event:
        return await asyncio.wait_for(self.received.get(), within)

    async def until_complete(self, operation_id: str) -> list[Any]:
        payloads: list[Any] = []
        while True:
            event = await self.next_event()
            assert event.data["id"] == operation_id, event
            if event.event == "complete":
                return payloads
            payloads.append(event.data["payload"])


async def reserve(client: httpx.AsyncClient) -> Reserved:
    response = await client.put(STREAM)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return await Reserved(client, response.text).open()


@pytest.fixture
async def sse(api: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with api.client() as client:
        yield client


# distinct connections mode


async def test_distinct_mode_runs_a_query_and_ends_the_stream(
    sse: httpx.AsyncClient, api: LiveServer
) -> None:
    async with sse.stream("POST", STREAM, json={"query": QUERY}, headers=EVENT_STREAM) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = await collect(response)
    assert [event.event for event in received] == ["next", "complete"]
    assert len(received[0].data["data"]["matches"]["edges"]) == 2
    assert received[1].data is None
    # GET with the request in the URL: the same.
    params = {"query": QUERY}
    async with sse.stream("GET", STREAM, params=params, headers=EVENT_STREAM) as response:
        again = await collect(response)
    assert again[0].data["data"] == received[0].data["data"] and again[1].event == "complete"


async def test_distinct_mode_follows_a_subscription_to_complete(sse: httpx.AsyncClient) -> None:
    body = {"query": UNKNOWN_TASK}
    async with sse.stream("POST", STREAM, json=body, headers=EVENT_STREAM) as response:
        received = await collect(response)
    assert [event.event for event in received] == ["next", "complete"]
    assert received[0].data["data"] == {"task": {"status": "NOT_FOUND"}}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ matches(first: 2) { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ matches(", "GRAPHQL_PARSE_FAILED"),
        ("{ " + "a: __typename " * 31 + "}", "BAD_USER_INPUT"),  # the alias limit
        (
            "{"
            + " matches(first: 1) { edges { node { region {" * 5
            + " name"
            + " } } } }" * 5
            + "}",
            "BAD_USER_INPUT",
        ),  # the depth limit
    ],
)
async def test_request_errors_arrive_as_events_with_their_code(
    sse: httpx.AsyncClient, query: str, code: str
) -> None:
    async with sse.stream("POST", STREAM, json={"query": query}, headers=EVENT_STREAM) as response:
        assert response.status_code == 200
        received = await collect(response)
    assert [event.event for event in received] == ["next", "complete"]
    payload = received[0].data
    assert "data" not in payload, payload
    assert payload["errors"][0]["extensions"]["code"] == code, payload


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"json": [{"query": QUERY}]}, 400),
        ({"json": {"variables": {}}}, 400),
        ({"json": {"query": QUERY, "variables": [1]}}, 400),
        ({"content": b"query=x", "headers": {"content-type": "text/plain"}}, 415),
    ],
)
async def test_malformed_requests_are_refused_before_any_stream(
    sse: httpx.AsyncClient, kwargs: dict[str, Any], status: int
) -> None:
    headers = {**EVENT_STREAM, **kwargs.pop("headers", {})}
    response = await sse.post(STREAM, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_client_that_leaves_frees_its_subscription(
    sse: httpx.AsyncClient, api: LiveServer
) -> None:
    before = active_subscriptions()
    body = {"query": DATA_UPDATED}
    async with sse.stream("POST", STREAM, json=body, headers=EVENT_STREAM) as response:
        async for event in events(response):
            if event.event == "next":
                assert event.data["data"]["dataUpdated"]["changed"] == []
                break
        assert active_subscriptions() == before + 1
    # The connection is closed: the operation is cancelled and unwinds.
    await until(lambda: active_subscriptions() == before, "the subscription ended")


# single connection mode


async def test_single_mode_runs_operations_by_id(sse: httpx.AsyncClient) -> None:
    stream = await reserve(sse)
    try:
        accepted = await stream.submit("q1", QUERY)
        assert accepted.status_code == 202, accepted.text
        [result] = await stream.until_complete("q1")
        assert len(result["data"]["matches"]["edges"]) == 2
        assert (await stream.submit("t1", UNKNOWN_TASK)).status_code == 202
        assert data(await stream.until_complete("t1")) == [{"task": {"status": "NOT_FOUND"}}]
        # An id may be used again once its operation completed.
        assert (await stream.submit("q1", "{ __typename }")).status_code == 202
        assert data(await stream.until_complete("q1")) == [{"__typename": "Query"}]
        # Validation errors travel through the stream too, coded.
        assert (await stream.submit("bad", "{ nope }")).status_code == 202
        [refused] = await stream.until_complete("bad")
        assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    finally:
        await stream.close()


async def test_single_mode_status_codes(sse: httpx.AsyncClient, api: LiveServer) -> None:
    endpoint = stream_endpoint(api.app)
    assert (await sse.put(STREAM, headers={"accept": "application/json"})).status_code == 406
    stream = await reserve(sse)
    token = {TOKEN_HEADER: stream.token}
    try:
        # Only one stream per reservation.
        second = await sse.get(STREAM, headers={**EVENT_STREAM, **token})
        assert second.status_code == 409
        # A PUT always reserves afresh: a token it carries (npm graphql-sse sends its last
        # one again when it reconnects) is not reused, even while its stream is open.
        again = await sse.put(STREAM, headers=token)
        assert again.status_code == 201 and again.text != stream.token
        # Unknown tokens.
        unknown = {TOKEN_HEADER: "no-such-token"}
        assert (await sse.get(STREAM, headers={**EVENT_STREAM, **unknown})).status_code == 404
        assert (await sse.get(STREAM, params={"token": "x"}, headers=EVENT_STREAM)).status_code == (
            404
        )
        body = {"query": QUERY, "extensions": {"operationId": "a"}}
        assert (await sse.post(STREAM, json=body, headers=unknown)).status_code == 404
        deleted = await sse.delete(STREAM, params={"operationId": "a"}, headers=unknown)
        assert deleted.status_code == 404
        assert (await sse.post(STREAM, json=body)).status_code == 404  # no token, no stream
        # Requests on the stream.
        assert (await sse.post(STREAM, json={"query": QUERY}, headers=token)).status_code == 400
        refused = await sse.post(STREAM, json=body, headers={**token, "accept": "text/html"})
        assert refused.status_code == 406
        assert (await sse.delete(STREAM, headers=token)).status_code == 400
        # DELETE stops a running subscription; its id is free again.
        before = active_subscriptions()
        assert (await stream.submit("s", DATA_UPDATED)).status_code == 202
        first = await stream.next_event()
        assert first.event == "next" and first.data["id"] == "s"
        assert (await stream.submit("s", DATA_UPDATED)).status_code == 409  # running
        await until(lambda: active_subscriptions() == before + 1, "running")
        stopped = await sse.delete(STREAM, params={"operationId": "s"}, headers=token)
        assert stopped.status_code == 200
        await until(lambda: active_subscriptions() == before, "stopped")
        assert (await stream.submit("s", "{ __typename }")).status_code == 202
        assert data(await stream.until_complete("s")) == [{"__typename": "Query"}]
    finally:
        await stream.close()
    # The stream gone, its reservation is gone: the token is unknown.
    await until(lambda: endpoint.reservations.get(stream.token) is None, "reservation dropped")
    assert (await stream.submit("late", QUERY)).status_code == 404


async def test_closing_the_stream_stops_its_subscriptions(
    sse: httpx.AsyncClient, api: LiveServer
) -> None:
    before = active_subscriptions()
    stream = await reserve(sse)
    for n in range(3):
        assert (await stream.submit(f"s{n}", DATA_UPDATED)).status_code == 202
    await until(lambda: active_subscriptions() == before + 3, "three running")
    await stream.close()
    await until(lambda: active_subscriptions() == before, "all stopped")


async def test_operations_may_precede_the_stream(sse: httpx.AsyncClient) -> None:
    response = await sse.put(STREAM)
    stream = Reserved(sse, response.text)
    assert (await stream.submit("early", "{ __typename }")).status_code == 202
    await stream.open()
    try:
        assert data(await stream.until_complete("early")) == [{"__typename": "Query"}]
    finally:
        await stream.close()


async def test_each_operation_pins_its_own_snapshot_set(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """Operations on one stream start from the data in service when each began."""
    frame = datasets.write_set(tmp_path, 50, run_id="run-a")
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    async with api.client() as client:
        stream = await reserve(client)
        try:
            assert (await stream.submit("early", DATA_UPDATED)).status_code == 202
            first = (await stream.next_event()).data["payload"]["data"]["dataUpdated"]
            assert first["changed"] == []
            predictions = datasets.predictions(frame.index, run_id="run-b")
            datasets.write(tmp_path, datasets.PREDICTIONS, predictions)
            update = (await stream.next_event()).data
            assert update["id"] == "early"
            changed = update["payload"]["data"]["dataUpdated"]
            assert changed["changed"] == ["predictions"]
            assert changed["dataVersion"] != first["dataVersion"]
            # A later operation on the same stream pins the set in service now.
            assert (await stream.submit("late", DATA_UPDATED)).status_code == 202
            late = (await stream.next_event()).data
            assert late["id"] == "late"
            assert late["payload"]["data"]["dataUpdated"]["dataVersion"] == changed["dataVersion"]
        finally:
            await stream.close()


async def test_unopened_reservations_expire(serve: ServeFactory, demo_dir: Path) -> None:
    api = serve(data_dir=demo_dir)
    stream_endpoint(api.app).reservations.ttl = 0.3
    async with api.client() as client:
        token = (await client.put(STREAM)).text
        await asyncio.sleep(0.6)
        headers = {**EVENT_STREAM, TOKEN_HEADER: token}
        assert (await client.get(STREAM, headers=headers)).status_code == 404


async def test_keep_alive_comments(serve: ServeFactory, demo_dir: Path) -> None:
    api = serve(data_dir=demo_dir)
    stream_endpoint(api.app).keep_alive = 0.2
    async with api.client() as client:
        stream = await reserve(client)
        await asyncio.sleep(1.1)
        await stream.close()
    assert stream.comments >= 4  # the first at once, then one per quiet 0.2 s


async def test_operations_per_stream_are_limited(limited: LiveServer) -> None:
    async with limited.client() as client:
        stream = await reserve(client)
        try:
            for n in range(2):
                assert (await stream.submit(f"s{n}", DATA_UPDATED)).status_code == 202
                assert (await stream.next_event()).data["id"] == f"s{n}"
            assert (await stream.submit("over", DATA_UPDATED)).status_code == 202
            [refused] = await stream.until_complete("over")
            [error] = refused["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            assert "Subscription limit reached: at most 2" in error["message"]
            # Stopping one makes room.
            headers = {TOKEN_HEADER: stream.token}
            await client.delete(STREAM, params={"operationId": "s0"}, headers=headers)
            assert (await stream.submit("again", "{ __typename }")).status_code == 202
            assert data(await stream.until_complete("again")) == [{"__typename": "Query"}]
        finally:
            await stream.close()


# auth


async def test_every_request_needs_the_api_key(keyed: LiveServer) -> None:
    async with keyed.client(headers={}) as anonymous, keyed.client() as client:
        body = {"query": QUERY}
        for headers in ({}, {"X-API-Key": "wrong"}):
            refused = [
                await anonymous.post(STREAM, json=body, headers={**EVENT_STREAM, **headers}),
                await anonymous.put(STREAM, headers=headers),
            ]
            for response in refused:
                assert response.status_code == 401, response.text
                assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
                assert response.headers["www-authenticate"].startswith("ApiKey")
        async with client.stream("POST", STREAM, json=body, headers=EVENT_STREAM) as response:
            assert [e.event for e in await collect(response)] == ["next", "complete"]
        # The query-parameter key works too (`token`, when it is no reservation's).
        params = {"token": QUERY_KEY}
        async with anonymous.stream(
            "POST", STREAM, json=body, params=params, headers=EVENT_STREAM
        ) as response:
            assert response.status_code == 200

        stream = await reserve(client)
        token = {TOKEN_HEADER: stream.token}
        try:
            operation = {"query": QUERY, "extensions": {"operationId": "a"}}
            assert (await anonymous.post(STREAM, json=operation, headers=token)).status_code == 401
            delete = await anonymous.delete(STREAM, params={"operationId": "a"}, headers=token)
            assert delete.status_code == 401
            # A reservation made with the header key is not the query key's.
            other = await anonymous.post(STREAM, json=operation, headers=token, params=params)
            assert other.status_code == 403
            assert (await stream.submit("a", QUERY)).status_code == 202
            assert len((await stream.until_complete("a"))[0]["data"]["matches"]["edges"]) == 2
        finally:
            await stream.close()

        # EventSource sends no headers: the reservation's token in the URL admits its stream.
        reservation = (await client.put(STREAM)).text
        async with anonymous.stream(
            "GET", STREAM, params={"token": reservation}, headers=EVENT_STREAM
        ) as response:
            assert response.status_code == 200
        unknown = await anonymous.get(STREAM, params={"token": "guess"}, headers=EVENT_STREAM)
        assert unknown.status_code == 401


async def test_wrong_methods(sse: httpx.AsyncClient) -> None:
    assert (await sse.patch(STREAM)).status_code == 405
