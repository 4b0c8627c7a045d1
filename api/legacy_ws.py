"""The legacy `graphql-ws` protocol, closing with 4403 on a bad key like the newer one."""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionErrorMessage,
    ConnectionInitMessage,
)

from api.auth import ApiKeys

FORBIDDEN = 4403


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """Strawberry closes a rejected legacy connection with 1011; clients expect 4403."""

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
