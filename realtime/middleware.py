"""ASGI middleware around every WebSocket connection: the origin check and the open-socket gauge."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings

from timetodo.metrics import OPEN_WEBSOCKETS

ORIGIN_HEADERS = (b"origin", b"sec-websocket-origin")


class BrowserOriginValidator(OriginValidator):
    """Refuses at the handshake (HTTP 403) a socket whose Origin header is not an allowed host.

    Unlike Channels' `AllowedHostsOriginValidator`, a socket without an Origin header is let
    through: clients that are not browsers (scripts, mobile and desktop apps) send none, and
    must authenticate with the auth frame (docs/api.md "WebSocket" 6): without a checked
    Origin a session cookie does not count. The check guards against other
    web pages using a visitor's session cookie, and browsers always send Origin. A present
    Origin must match, `null` (sandboxed pages, file: URLs) and an empty one included.
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("BrowserOriginValidator is for WebSocket connections only")
        # Browsers of the older handshake (hybi-08 to -10, which Daphne speaks) send the
        # page's origin as Sec-WebSocket-Origin.
        origins = [value for name, value in scope.get("headers", []) if name in ORIGIN_HEADERS]
        if all(self.valid_origin(urlparse(origin.decode("latin1"))) for origin in origins):
            # Only a checked Origin makes a session cookie count (realtime.consumers).
            return await self.application({**scope, "origin_checked": bool(origins)}, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def allowed_hosts_origin_validator(application: Any) -> BrowserOriginValidator:
    """A `BrowserOriginValidator` for settings.ALLOWED_HOSTS (with DEBUG and none set: localhost)."""
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)


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
