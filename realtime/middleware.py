"""ASGI middleware around every WebSocket connection."""

from __future__ import annotations

from typing import Any

from channels.middleware import BaseMiddleware

from timetodo.metrics import OPEN_WEBSOCKETS


class OpenSocketGaugeMiddleware(BaseMiddleware):
    """Counts sockets from the moment they are accepted until the application ends."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        accepted = False

        async def counting_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            await send(message)
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                OPEN_WEBSOCKETS.inc()

        try:
            return await self.inner(scope, receive, counting_send)
        finally:
            if accepted:
                OPEN_WEBSOCKETS.dec()
