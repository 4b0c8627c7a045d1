"""WebSocket messages as text frames, whatever `encode_json` returns.

Strawberry's ASGI adapter sends a message with `send_bytes` when the view's
`encode_json` returns bytes, as ours does (orjson, for fast HTTP bodies). The
GraphQL-over-WebSocket protocols carry JSON in text frames: npm `graphql-ws`
rejects a binary one ("Message is missing the 'type' property") and browsers
hand it over as a Blob. Both protocols send through this adapter.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.websockets import WebSocketDisconnect

from graph.adapters.strawberry import ASGIWebSocketAdapter, WebSocketDisconnected


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc
