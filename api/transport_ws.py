"""The `graphql-transport-ws` protocol: Strawberry's handler, with a coded limit error
and a drain that closes with 1012 (api/drain.py)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from api.drain import hold_websocket
from graph.adapters.strawberry import BaseGraphQLTransportWSHandler, SubscribeMessage
from graph.errors import Code


def subscription_limit_error(limit: int) -> GraphQLError:
    """What a client gets for an operation beyond MATCHGRAPH_MAX_SUBSCRIPTIONS."""
    return GraphQLError(
        f"Subscription limit reached: at most {limit} operations at once per connection",
        extensions={"code": Code.BAD_USER_INPUT.value},
    )


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry refuses an operation beyond the limit with an error that has no code."""

    async def handle(self) -> None:
        await hold_websocket(self.view.drain, self.websocket, super().handle, self._stop_all)  # type: ignore[attr-defined]

    async def _stop_all(self) -> None:
        """Cancel every operation without `complete`: the client subscribes them again."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and message["id"] not in self.operations  # a duplicate id closes with 4409
            and limit is not None
            and len(self.operations) >= limit
        ):
            error = subscription_limit_error(limit)
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)
