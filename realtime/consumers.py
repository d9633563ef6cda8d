"""WebSocket consumers: the live board socket at /ws/ and the 4404 catch-all.

The consumer is the connection: authentication, the client's frames (size, rate, JSON,
dispatch) and closing. What the socket follows and is sent lives in its `Feed`
(realtime.feed), created once the socket is authenticated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import User
from accounts.selectors import user_is_active
from realtime import protocol
from realtime.auth import user_for_token
from realtime.feed import Feed
from realtime.hub import hub_for

logger = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Any socket path without a consumer: accept, then close with 4404 so browsers see why."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)


class TokenBucket:
    """WS_RATE_PER_SECOND frames a second, bursts up to WS_RATE_BURST."""

    def __init__(self) -> None:
        self.allowance = float(settings.WS_RATE_BURST)
        self.at = time.monotonic()

    def take(self, cost: float = 1) -> bool:
        now = time.monotonic()
        self.allowance = min(
            float(settings.WS_RATE_BURST), self.allowance + (now - self.at) * settings.WS_RATE_PER_SECOND
        )
        self.at = now
        if self.allowance < cost:
            return False
        self.allowance -= cost
        return True


class BoardConsumer(AsyncJsonWebsocketConsumer):
    """One socket per client, multiplexing every project it follows (see realtime.feed)."""

    user: User | None
    feed: Feed | None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also after a crash, when disconnect() never runs: no group outlives its socket.
            await self.leave()

    async def leave(self) -> None:
        auth_timer = getattr(self, "auth_timer", None)
        if auth_timer is not None:
            auth_timer.cancel()
        feed = getattr(self, "feed", None)
        if feed is not None:
            await feed.stop()

    async def connect(self) -> None:
        self.user = None
        self.feed = None
        self.bucket = TokenBucket()
        self.auth_timer: asyncio.Task[None] | None = None
        # One thing at a time on this socket: a frame, or what the feed has queued.
        self.busy = asyncio.Lock()
        await self.accept()
        scope_user = self.scope.get("user")
        # A session counts only for a browser, whose Origin was checked; other clients
        # authenticate with the auth frame (docs/api.md "WebSocket" 6).
        browser = self.scope.get("origin_checked", False)
        if browser and scope_user is not None and scope_user.is_authenticated and scope_user.is_active:
            await self.authenticated(scope_user)
        else:
            self.auth_timer = asyncio.ensure_future(self.close_unless_authenticated())

    async def disconnect(self, code: int) -> None:
        await self.leave()

    async def close_unless_authenticated(self) -> None:
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT_SECONDS)
        if self.user is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)

    async def authenticated(self, user: User) -> None:
        """Signed in only once the user's stream is followed (a deactivation reaches the
        socket from then on) and the user is still active after that."""
        feed = Feed(self, hub_for(self.channel_layer), str(user.pk), self.busy)
        try:
            await feed.start()
            active = await database_sync_to_async(user_is_active)(user_id=user.pk)
        except Exception:
            logger.exception("following the user's stream failed")
            await feed.stop()
            await self.close(code=protocol.CLOSE_SERVER_ERROR)
            return
        if not active:  # (deactivated between the token check and the join)
            await feed.stop()
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        self.user, self.feed = user, feed
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        await self.send_json(protocol.hello(user))

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return protocol.encode(content)

    # Frames from the client

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        async with self.busy:
            if self.feed is not None and self.feed.closing:
                return  # (the user is deactivated: the socket is closing)
            raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
            if len(raw.encode("utf-8")) > protocol.MAX_FRAME_BYTES:
                # Daphne (--websocket-max-message-size 65536) closes such frames with 1009 before
                # they get here; this guards servers without that limit.
                await self.close(code=protocol.CLOSE_TOO_BIG)
                return
            if not self.bucket.take():
                await self.send_json(protocol.error("rate_limited", retry_after=1))
                return
            try:
                await self.receive_json(await self.decode_json(raw))
            except (ValueError, RecursionError, protocol.BadFrame) as exc:
                await self.send_json(protocol.error("bad_request", detail=str(exc)[:200]))
            except Exception:
                # A failure of ours (a database error...) must not kill the socket.
                logger.exception("socket frame failed")
                await self.send_json(protocol.error("server_error"))

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            raise protocol.BadFrame("a frame is a JSON object with a type")
        kind = content["type"]
        if kind == "ping":
            if self.feed is not None:
                await self.feed.catch_up()
            await self.send_json(protocol.pong())
        elif kind == "auth":
            await self.on_auth(content)
        elif self.feed is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
        elif kind == "subscribe":
            await self.feed.subscribe(
                protocol.project_id_of(content), protocol.since_of(content), charge=self.bucket.take
            )
        elif kind == "unsubscribe":
            await self.feed.unsubscribe(protocol.project_id_of(content))
        else:
            raise protocol.BadFrame(f"unknown frame type {kind[:40]!r}")

    async def on_auth(self, frame: dict[str, Any]) -> None:
        if self.user is not None:
            raise protocol.BadFrame("already authenticated")
        token = frame.get("token")
        user = await database_sync_to_async(user_for_token)(token) if isinstance(token, str) else None
        if user is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        await self.authenticated(user)
