"""An operation beyond MATCHGRAPH_MAX_SUBSCRIPTIONS is refused with a coded error, on both
WebSocket protocols (Strawberry's own refusal carries no `extensions.code`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import WebSocketRoute

from api.legacy_ws import LegacyWSHandler
from api.transport_ws import TransportWSHandler
from graph.adapters.strawberry import BaseGraphQLTransportWSHandler, BaseGraphQLWSHandler
from tests.fixtures.server import ServeFactory

QUERY = {"query": 'subscription { task(id: "t") { status } }'}


class FakeSocket:
    """The adapter methods the limit path uses: what was sent, how it was closed."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _transport(limit: int, running: int) -> tuple[TransportWSHandler, FakeSocket]:
    socket = FakeSocket()
    handler = TransportWSHandler(
        None,  # type: ignore[arg-type]  # the view: only connection_init uses it
        socket,  # type: ignore[arg-type]
        None,
        None,
        None,  # type: ignore[arg-type]  # the schema: refused operations never run
        timedelta(seconds=60),
        limit,
    )
    handler.connection_acknowledged = True
    handler.operations = {f"op{i}": object() for i in range(running)}  # type: ignore[misc]
    return handler, socket


def _legacy(limit: int, running: int) -> tuple[LegacyWSHandler, FakeSocket]:
    socket = FakeSocket()
    handler = LegacyWSHandler(
        None,  # type: ignore[arg-type]
        socket,  # type: ignore[arg-type]
        None,
        None,
        None,  # type: ignore[arg-type]
        False,
        None,
        limit,
    )
    handler.connection_acknowledged = True
    handler.tasks = {f"op{i}": object() for i in range(running)}  # type: ignore[misc]
    return handler, socket


def _coded(error: dict[str, Any], limit: int) -> None:
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("Subscription limit reached")
    assert f"at most {limit}" in error["message"]


async def test_graphql_transport_ws_refusal_has_a_code() -> None:
    handler, socket = _transport(limit=20, running=20)
    await handler.handle_subscribe({"id": "op20", "type": "subscribe", "payload": QUERY})
    (message,) = socket.sent
    assert message["id"] == "op20" and message["type"] == "error"
    (error,) = message["payload"]
    _coded(error, 20)
    assert socket.closed is None and "op20" not in handler.operations


async def test_legacy_graphql_ws_refusal_has_a_code() -> None:
    handler, socket = _legacy(limit=20, running=20)
    await handler.handle_start({"id": "op20", "type": "start", "payload": QUERY})
    (message,) = socket.sent
    assert message["id"] == "op20" and message["type"] == "error"
    _coded(message["payload"], 20)
    assert socket.closed is None and "op20" not in handler.tasks


@pytest.mark.parametrize("protocol", ["transport", "legacy"])
async def test_below_the_limit_strawberry_runs_the_operation(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []

    async def start(self: Any, message: dict[str, Any]) -> None:
        started.append(message["id"])

    if protocol == "transport":
        monkeypatch.setattr(BaseGraphQLTransportWSHandler, "handle_subscribe", start)
        transport, socket = _transport(limit=20, running=19)
        await transport.handle_subscribe({"id": "op19", "type": "subscribe", "payload": QUERY})
    else:
        monkeypatch.setattr(BaseGraphQLWSHandler, "handle_start", start)
        legacy, socket = _legacy(limit=20, running=20)
        # A reused id replaces its operation: not a 21st one.
        await legacy.handle_start({"id": "op3", "type": "start", "payload": QUERY})
    assert started and socket.sent == []


def test_the_api_uses_both_handlers(serve: ServeFactory, demo_dir: Path) -> None:
    app = serve(data_dir=demo_dir, max_subscriptions=3).app
    (view,) = [r.endpoint for r in app.routes if isinstance(r, WebSocketRoute)]
    assert view.graphql_transport_ws_handler_class is TransportWSHandler
    assert view.graphql_ws_handler_class is LegacyWSHandler
    assert view.max_subscriptions_per_connection == 3
