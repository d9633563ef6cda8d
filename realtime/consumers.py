"""WebSocket consumers: the live board socket at /ws/ and the 4404 catch-all."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from realtime import protocol
from realtime.auth import user_for_token
from realtime.hub import Hub, hub_for
from tasks import selectors
from tasks.events import Verb, event_frame
from timetodo.metrics import DELIVERED
from timetodo.streams import EVENT_MESSAGE_TYPE, REVOKE_MESSAGE_TYPE, user_stream

logger = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Any socket path without a consumer: accept, then close with 4404 so browsers see why."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)


class ReplayRefused(Exception):
    """The socket has used up its budget for replaying the log."""


class Subscription:
    """One followed project: the last seq this socket has, and when access was last checked."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.checked_at = time.monotonic()

    def needs_recheck(self) -> bool:
        return time.monotonic() - self.checked_at > settings.WS_ACCESS_RECHECK_SECONDS


class BoardConsumer(AsyncWebsocketConsumer):
    """One socket per client, multiplexing every project it follows.

    Delivery is in seq order per project and never skips: an event older than what the
    socket has is dropped, one beyond the next seq first refills the gap from the activity
    log. Access is checked on subscribe, re-checked before delivering once it is older than
    WS_ACCESS_RECHECK_SECONDS, and at once when a revocation arrives.

    Events come from the process's hub (realtime.hub), not through this socket's channel.
    Frames and revocations are handled under `busy`; events offered meanwhile wait in
    `inbox` and are handled in order once the socket is free.
    """

    user: User | None
    subscriptions: dict[str, Subscription]
    hub: Hub
    inbox_limit = 1000  # events waiting on a busy socket; beyond, they are refilled from the log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also after a crash, when disconnect() never runs: no group outlives its socket.
            await self.leave_groups()

    async def leave_groups(self) -> None:
        self.subscriptions = {}
        drainer = getattr(self, "drainer", None)
        if drainer is not None:
            drainer.cancel()
        hub = getattr(self, "hub", None)
        if hub is not None:
            await hub.unfollow_all(self)
        user = getattr(self, "user", None)
        if user is not None:
            await self.channel_layer.group_discard(user_stream(user.pk), self.channel_name)

    async def connect(self) -> None:
        self.user = None
        self.subscriptions = {}
        self.allowance = float(settings.WS_RATE_BURST)
        self.allowance_at = time.monotonic()
        self.auth_timer: asyncio.Task[None] | None = None
        self.hub = hub_for(self.channel_layer)
        self.busy = asyncio.Lock()
        self.inbox: deque[dict[str, Any]] = deque()
        self.drainer: asyncio.Task[None] | None = None
        self.closing = False  # set the moment the user is deactivated: nothing more is sent
        await self.accept()
        scope_user = self.scope.get("user")
        if scope_user is not None and scope_user.is_authenticated and scope_user.is_active:
            await self.authenticated(scope_user)
        else:
            self.auth_timer = asyncio.ensure_future(self.close_unless_authenticated())

    async def disconnect(self, code: int) -> None:
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        await self.leave_groups()

    async def close_unless_authenticated(self) -> None:
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT_SECONDS)
        if self.user is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)

    async def authenticated(self, user: User) -> None:
        self.user = user
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        await self.channel_layer.group_add(user_stream(user.pk), self.channel_name)
        await self.send_json(
            {
                "type": "hello",
                "user": {"id": str(user.pk), "username": user.username, "full_name": user.full_name},
                "heartbeat": settings.WS_HEARTBEAT_SECONDS,
                "limits": protocol.limits(),
            }
        )

    # Frames from the client

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        async with self.busy:
            await self.on_frame(text_data, bytes_data)

    async def on_frame(self, text_data: str | None, bytes_data: bytes | None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw.encode("utf-8") if isinstance(raw, str) else raw) > protocol.MAX_FRAME_BYTES:
            # Daphne (--websocket-max-message-size 65536) closes such frames with 1009 before
            # they get here; this guards servers without that limit.
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        if not self.take_allowance():
            await self.send_json(protocol.error("rate_limited", retry_after=1))
            return
        try:
            frame = json.loads(raw)
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise protocol.BadFrame("a frame is a JSON object with a type")
            await self.dispatch_frame(frame)
        except (ValueError, RecursionError, protocol.BadFrame) as exc:
            await self.send_json(protocol.error("bad_request", detail=str(exc)[:200]))
        except Exception:
            # A failure of ours (a database error...) must not kill the socket.
            logger.exception("socket frame failed")
            await self.send_json(protocol.error("server_error"))

    def take_allowance(self, cost: float = 1) -> bool:
        """Token bucket: WS_RATE_PER_SECOND frames a second, bursts up to WS_RATE_BURST."""
        now = time.monotonic()
        self.allowance = min(
            float(settings.WS_RATE_BURST), self.allowance + (now - self.allowance_at) * settings.WS_RATE_PER_SECOND
        )
        self.allowance_at = now
        if self.allowance < cost:
            return False
        self.allowance -= cost
        return True

    async def dispatch_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            await self.catch_up()
            await self.send_json({"type": "pong"})
        elif kind == "auth":
            await self.on_auth(frame)
        elif self.user is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
        elif kind == "subscribe":
            await self.on_subscribe(protocol.project_id_of(frame), protocol.since_of(frame))
        elif kind == "unsubscribe":
            await self.on_unsubscribe(protocol.project_id_of(frame))
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

    async def on_subscribe(self, project_id: str, since: int | None) -> None:
        if self.user is None:
            return
        if project_id not in self.subscriptions and len(self.subscriptions) >= settings.WS_MAX_SUBSCRIPTIONS:
            await self.send_json(protocol.error("too_many_subscriptions", project=project_id))
            return
        # Join the group before reading the log: an event committed meanwhile arrives twice
        # (once here, once live) and the seq check drops the copy; none can fall between.
        # Access and the current seq are read together, after joining.
        await self.hub.follow(project_id, self)
        try:
            last_seq = await database_sync_to_async(selectors.followed_last_seq)(
                user_id=self.user.pk, project_id=project_id
            )
        except BaseException:
            if project_id not in self.subscriptions:
                await self.hub.unfollow(project_id, self)
            raise
        if last_seq is None:
            self.subscriptions.pop(project_id, None)
            await self.hub.unfollow(project_id, self)
            await self.send_json(protocol.error("not_found", project=project_id))
            return
        is_new = project_id not in self.subscriptions
        subscription = self.subscriptions.setdefault(project_id, Subscription(last_seq))
        subscription.checked_at = time.monotonic()
        try:
            replayed = since is None or await self.replay(project_id, subscription, since, last_seq)
        except ReplayRefused:
            if is_new:
                self.subscriptions.pop(project_id, None)
                await self.hub.unfollow(project_id, self)
            await self.send_json(protocol.error("rate_limited", project=project_id, retry_after=1))
            return
        if since is None:
            subscription.seq = last_seq
        elif not replayed:
            if project_id not in self.subscriptions:
                return  # the replay ended in a revocation
            subscription.seq = last_seq
            await self.send_json({"type": "resync_required", "project": project_id, "seq": last_seq})
            return
        if project_id in self.subscriptions:
            await self.send_json({"type": "subscribed", "project": project_id, "seq": subscription.seq})

    async def replay(self, project_id: str, subscription: Subscription, since: int, last_seq: int) -> bool:
        """Send every event after `since` from the log; False if `since` is outside the window."""
        if since > last_seq or last_seq - since > settings.WS_REPLAY_MAX_EVENTS:
            return False
        # Replays are charged to the frame budget: re-subscribing in a loop cannot make the
        # server push the log again and again.
        if not self.take_allowance(cost=(last_seq - since) / settings.WS_REPLAY_EVENTS_PER_FRAME):
            raise ReplayRefused
        events = await database_sync_to_async(selectors.events_between)(
            project_id=project_id, after=since, up_to=last_seq
        )
        oldest_allowed = timezone.now() - settings.WS_REPLAY_MAX_AGE
        if len(events) != last_seq - since or (events and events[0].created_at < oldest_allowed):
            return False
        subscription.seq = since
        for activity in events:
            if not await self.deliver(project_id, event_frame(activity), path="replay"):
                return project_id in self.subscriptions and subscription.seq == last_seq
        return True

    async def on_unsubscribe(self, project_id: str) -> None:
        if self.subscriptions.pop(project_id, None) is not None:
            await self.hub.unfollow(project_id, self)
        await self.send_json({"type": "unsubscribed", "project": project_id})

    # Events from the hub

    async def offer(self, message: dict[str, Any]) -> int:
        """An event of a followed project: send it now if this socket is free and it is the
        next one (1 is returned), else queue it for `drain` (0)."""
        if self.closing:
            return 0
        if not self.inbox and not self.busy.locked():
            event = message["event"]
            subscription = self.subscriptions.get(event["project"])
            if subscription is None or event["seq"] <= subscription.seq:
                return 0  # not followed (any more), or already delivered
            if (
                event["seq"] == subscription.seq + 1
                and not subscription.needs_recheck()
                and not self.is_own_removal(event)
            ):
                subscription.seq = event["seq"]
                await self.send(text_data=message["text"])
                return 1
        self.enqueue(message)
        return 0

    def enqueue(self, message: dict[str, Any]) -> None:
        if message["type"] == EVENT_MESSAGE_TYPE and len(self.inbox) >= self.inbox_limit:
            return  # a socket stuck this long refills the gap from the log later
        self.inbox.append(message)
        if self.drainer is None:
            self.drainer = asyncio.ensure_future(self.drain())

    async def drain(self) -> None:
        try:
            async with self.busy:
                while self.inbox:
                    message = self.inbox.popleft()
                    if message["type"] == EVENT_MESSAGE_TYPE:
                        await self.stream_event(message)
                        continue
                    try:
                        await self.on_revoke(message)
                    except Exception:
                        # Access could not be re-checked: end the socket rather than risk
                        # sending a revoked project's events; the client resumes.
                        logger.exception("re-checking access failed")
                        self.closing = True
                        await self.close(code=protocol.CLOSE_SERVER_ERROR)
                        return
        finally:
            self.drainer = None

    async def stream_event(self, message: dict[str, Any]) -> None:
        try:
            await self.on_event(message)
        except Exception:
            # Never lose the socket over one event: the next one (or a ping) refills the gap.
            logger.exception("delivering an event failed")

    async def on_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        project_id = event["project"]
        subscription = self.subscriptions.get(project_id)
        if subscription is None or event["seq"] <= subscription.seq:
            return  # not followed (any more), or already delivered
        if subscription.needs_recheck():
            if not await self.may_follow(project_id):
                await self.revoke(project_id)
                return
            subscription.checked_at = time.monotonic()
        if event["seq"] > subscription.seq + 1:
            await self.refill(project_id, subscription, event["seq"] - 1)
        if event["seq"] == subscription.seq + 1:
            await self.deliver(project_id, event, path="live", text=message.get("text"))

    async def refill(self, project_id: str, subscription: Subscription, up_to: int) -> None:
        """The layer dropped something: fetch the missing events from the log, in order; a
        gap too big to refill asks the client to reload instead."""
        if up_to - subscription.seq > settings.WS_REPLAY_MAX_EVENTS:
            events = []
        else:
            events = await database_sync_to_async(selectors.events_between)(
                project_id=project_id, after=subscription.seq, up_to=up_to
            )
        if len(events) != up_to - subscription.seq:
            subscription.seq = up_to
            await self.send_json({"type": "resync_required", "project": project_id, "seq": up_to})
            return
        for activity in events:
            if not await self.deliver(project_id, event_frame(activity), path="refill"):
                return

    async def catch_up(self) -> None:
        """On each ping: a dropped last event has no later one to reveal the gap, so compare
        every subscription with the log now."""
        for project_id, subscription in list(self.subscriptions.items()):
            last_seq = await database_sync_to_async(selectors.project_last_seq)(project_id=project_id)
            if last_seq is None:
                await self.revoke(project_id)
            elif last_seq > subscription.seq:
                await self.refill(project_id, subscription, last_seq)

    async def deliver(self, project_id: str, event: dict[str, Any], *, path: str, text: str | None = None) -> bool:
        """Send the next event of a subscription; False once the subscription has ended."""
        subscription = self.subscriptions.get(project_id)
        if subscription is None or self.closing:
            return False
        if event["seq"] != subscription.seq + 1:
            return True
        if self.is_own_removal(event) and not await self.may_follow(project_id):
            await self.revoke(project_id)  # (a removal followed by a re-add is history, not a revocation)
            return False
        subscription.seq = event["seq"]
        await self.send(text_data=text) if text is not None else await self.send_json(event)
        DELIVERED[path].inc()
        return True

    def is_own_removal(self, event: dict[str, Any]) -> bool:
        user = self.user
        return user is not None and event["verb"] == Verb.MEMBER_REMOVED and event["target_id"] == str(user.pk)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # A deactivation must stop delivery at once: Channels would first hop to the
        # database thread (close_old_connections) and the handler then wait for `busy`,
        # while the hub kept sending.
        if message.get("type") == REVOKE_MESSAGE_TYPE and message.get("reason") == "user_deactivated":
            self.closing = True
        await super().dispatch(message)

    async def stream_revoke(self, message: dict[str, Any]) -> None:
        """A project was deleted or the user deactivated: re-check every subscription now."""
        if message.get("reason") == "user_deactivated":  # (dispatch has already set `closing`)
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        async with self.busy:
            await self.on_revoke(message)

    async def on_revoke(self, message: dict[str, Any]) -> None:
        if self.user is None:
            return
        for project_id in list(self.subscriptions):
            if not await self.may_follow(project_id):
                await self.revoke(project_id)

    async def revoke(self, project_id: str) -> None:
        if self.subscriptions.pop(project_id, None) is None:
            return
        await self.hub.unfollow(project_id, self)
        await self.send_json({"type": "unsubscribed", "project": project_id, "reason": "access_revoked"})

    async def may_follow(self, project_id: str) -> bool:
        if self.user is None:
            return False
        return await database_sync_to_async(selectors.socket_may_follow)(user_id=self.user.pk, project_id=project_id)

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))
