"""The legacy `graphql-ws` protocol, closing with 4403 on a bad key like the newer one,
and with 1012 at drain (api/drain.py)."""

from __future__ import annotations

from typing import Any

from api.auth import ApiKeys
from api.drain import hold_websocket
from api.transport_ws import subscription_limit_error
from graph.adapters.strawberry import (
    BaseGraphQLWSHandler,
    ConnectionErrorMessage,
    ConnectionInitMessage,
    StartMessage,
)

FORBIDDEN = 4403


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """Strawberry closes a rejected legacy connection with 1011; clients expect 4403."""

    async def handle(self) -> None:
        await hold_websocket(self.view.drain, self.websocket, super().handle, self._stop_all)  # type: ignore[attr-defined]

    _draining = False

    async def _stop_all(self) -> None:
        """Stop every operation without GQL_COMPLETE: a reconnecting client starts again
        the operations it still holds (a completed one it forgets)."""
        self._draining = True
        for operation_id in list(self.tasks):
            await self.cleanup_operation(operation_id)

    async def send_message(self, message: Any) -> None:
        # Strawberry sends GQL_COMPLETE for an operation it stops (even a cancelled one).
        if self._draining and message.get("type") == "complete":
            return
        await super().send_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        keys: ApiKeys = self.view.keys  # type: ignore[attr-defined]
        payload = message.get("payload")
        params = payload if isinstance(payload, dict) else None
        if keys.scope_of_params(params) is None:
            rejection: ConnectionErrorMessage = {
                "type": "connection_error",
                "payload": {"message": "missing or invalid API key"},
            }
            await self.send_message(rejection)
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
            return
        await super().handle_connection_init(message)

    async def handle_start(self, message: StartMessage) -> None:
        """Strawberry refuses an operation beyond the limit with an error without a code."""
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and message["id"] not in self.tasks  # a reused id replaces its operation
            and limit is not None
            and len(self.tasks) >= limit
        ):
            error = subscription_limit_error(limit)
            await self.send_message(
                {"type": "error", "id": message["id"], "payload": error.formatted}
            )
            return
        await super().handle_start(message)
