"""The projects one socket follows and the events it is sent: the hub's `Follower` for a socket.

Delivery is in seq order per project and never skips: an event older than what the
socket has is dropped, one beyond the next seq first refills the gap from the activity
log. Access is checked on subscribe, re-checked before delivering once it is older than
WS_ACCESS_RECHECK_SECONDS or when the event removes this user, and at once when a
revocation arrives. The rules are `realtime.delivery.decide`; this module carries them out.

Events come from the process's hub (realtime.hub). The socket's frames are handled under
`busy` (the consumer holds it), and so are the messages queued here; an event offered
meanwhile waits in `inbox` and is handled in order once the socket is free.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from realtime import protocol
from realtime.delivery import Decision, Subscription, decide
from realtime.hub import Hub
from tasks import selectors
from tasks.events import event_frame
from timetodo.metrics import DELIVERED
from timetodo.streams import EVENT_MESSAGE_TYPE, project_stream, user_stream

logger = logging.getLogger(__name__)


class Socket(Protocol):
    """The sending side of the socket (realtime.consumers' `BoardConsumer`)."""

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None: ...

    async def send_json(self, content: Any, close: bool = False) -> None: ...

    async def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Tally:
    """Deliveries by path (DELIVERED), added to the counter once per turn of the event loop:
    an increment of a multiprocess counter takes ~2 µs, and one hand-out by the hub reaches
    hundreds of sockets in one turn."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(DELIVERED, 0)
        # The loop a flush is scheduled on (if that loop closes first, the next one schedules its own).
        self.flushing_on: asyncio.AbstractEventLoop | None = None

    def add(self, path: str) -> None:
        self.counts[path] += 1
        loop = asyncio.get_running_loop()
        if self.flushing_on is not loop:
            self.flushing_on = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flushing_on = None
        for path, count in self.counts.items():
            if count:
                DELIVERED[path].inc(count)
                self.counts[path] = 0


delivered = Tally()


class ReplayRefused(Exception):
    """The socket has used up its budget for replaying the log."""


class Feed:
    """What one authenticated socket follows: its user's stream and its subscriptions."""

    inbox_limit = 1000  # events waiting on a busy socket; beyond, they are refilled from the log

    def __init__(self, socket: Socket, hub: Hub, user_id: str, busy: asyncio.Lock) -> None:
        self.socket = socket
        self.hub = hub
        self.user_id = user_id
        self.busy = busy
        self.subscriptions: dict[str, Subscription] = {}
        self.inbox: deque[dict[str, Any]] = deque()
        self.drainer: asyncio.Task[None] | None = None
        self.closer: asyncio.Task[None] | None = None
        self.closing = False  # set the moment the user is deactivated: nothing more is sent
        self.recheck_after = settings.WS_ACCESS_RECHECK_SECONDS  # (read once: the fast path is hot)

    async def start(self) -> None:
        """Follow the user's stream: a deactivation reaches the socket through the hub."""
        await self.hub.follow(user_stream(self.user_id), self)

    async def stop(self) -> None:
        """Leave every stream (the socket is gone, or going)."""
        self.subscriptions = {}
        for task in (self.drainer, self.closer):
            if task is not None:
                task.cancel()
        await self.hub.unfollow_all(self)

    async def send(self, frame: dict[str, Any]) -> None:
        if not self.closing:
            await self.socket.send_json(frame)

    # Frames from the client

    async def subscribe(self, project_id: str, since: int | None, *, charge: Callable[[float], bool]) -> None:
        """`charge(cost)` takes a replay's cost from the socket's frame budget, False if it cannot."""
        if project_id not in self.subscriptions and len(self.subscriptions) >= settings.WS_MAX_SUBSCRIPTIONS:
            await self.send(protocol.error("too_many_subscriptions", project=project_id))
            return
        # Join the group before reading the log: an event committed meanwhile arrives twice
        # (once here, once live) and the seq check drops the copy; none can fall between.
        # Access and the current seq are read together, after joining.
        stream = project_stream(project_id)
        await self.hub.follow(stream, self)
        try:
            last_seq = await database_sync_to_async(selectors.followed_last_seq)(
                user_id=self.user_id, project_id=project_id
            )
        except BaseException:
            if project_id not in self.subscriptions:
                await self.hub.unfollow(stream, self)
            raise
        if last_seq is None:
            self.subscriptions.pop(project_id, None)
            await self.hub.unfollow(stream, self)
            await self.send(protocol.error("not_found", project=project_id))
            return
        is_new = project_id not in self.subscriptions
        subscription = self.subscriptions.setdefault(project_id, Subscription(last_seq, time.monotonic()))
        subscription.checked_at = time.monotonic()
        if since is None:
            subscription.seq = last_seq
        else:
            try:
                replayed = await self.replay(project_id, subscription, since, last_seq, charge)
            except ReplayRefused:
                if is_new:
                    self.subscriptions.pop(project_id, None)
                    await self.hub.unfollow(stream, self)
                await self.send(protocol.error("rate_limited", project=project_id, retry_after=1))
                return
            if not replayed:
                if self.subscriptions.get(project_id) is not subscription:
                    return  # the replay ended in a revocation
                subscription.seq = last_seq
                await self.send(protocol.resync_required(project_id, last_seq))
                return
        if self.subscriptions.get(project_id) is subscription:
            await self.send(protocol.subscribed(project_id, subscription.seq))

    async def replay(
        self, project_id: str, subscription: Subscription, since: int, last_seq: int, charge: Callable[[float], bool]
    ) -> bool:
        """Send every event after `since` from the log; False if `since` is outside the window."""
        if since > last_seq or last_seq - since > settings.WS_REPLAY_MAX_EVENTS:
            return False
        # Replays are charged to the frame budget: re-subscribing in a loop cannot make the
        # server push the log again and again.
        if not charge((last_seq - since) / settings.WS_REPLAY_EVENTS_PER_FRAME):
            raise ReplayRefused
        events = await database_sync_to_async(selectors.events_between)(
            project_id=project_id, after=since, up_to=last_seq
        )
        oldest_allowed = timezone.now() - settings.WS_REPLAY_MAX_AGE
        if len(events) != last_seq - since or (events and events[0].created_at < oldest_allowed):
            return False
        subscription.seq = since
        for activity in events:
            # (Access was read with last_seq, after every one of these was committed.)
            if not await self.handle(event_frame(activity), path="replay", rechecked=True):
                return False
        return True

    async def unsubscribe(self, project_id: str) -> None:
        if self.subscriptions.pop(project_id, None) is not None:
            await self.hub.unfollow(project_stream(project_id), self)
        await self.send(protocol.unsubscribed(project_id))

    async def catch_up(self) -> None:
        """On each ping: a dropped last event has no later one to reveal the gap, so compare
        every subscription with the log now."""
        for project_id, subscription in list(self.subscriptions.items()):
            if self.subscriptions.get(project_id) is not subscription:
                continue
            last_seq = await database_sync_to_async(selectors.project_last_seq)(project_id=project_id)
            if last_seq is None:
                await self.revoke(project_id)
            elif last_seq > subscription.seq:
                await self.refill(project_id, subscription, last_seq)

    # Messages from the hub (realtime.hub.Follower)

    async def offer(self, message: dict[str, Any]) -> bool:
        """The hub's fast path: the pre-encoded frame goes out now if the socket is free and
        the event is next in line; anything else waits in the inbox for `drain`."""
        if self.closing:
            return False
        if not self.inbox and not self.busy.locked():
            event = message["event"]
            subscription = self.subscriptions.get(event["project"])
            decision = decide(
                subscription,
                event,
                user_id=self.user_id,
                now=time.monotonic(),
                recheck_after=self.recheck_after,
            )
            if decision is Decision.DROP:
                return False
            if decision is Decision.DELIVER and subscription is not None:
                await self.deliver(subscription, event, path="live", text=message["text"])
                return True
        self.enqueue(message)
        return False

    def revoked(self, message: dict[str, Any]) -> None:
        """On the user's stream: the user is deactivated, the socket closes and is sent
        nothing more from now on. On a project's (deleted): every subscription is re-checked."""
        if message["stream"] == user_stream(self.user_id):
            if not self.closing:
                self.closing = True
                self.closer = asyncio.ensure_future(self.socket.close(code=protocol.CLOSE_UNAUTHENTICATED))
            return
        self.enqueue(message)

    def enqueue(self, message: dict[str, Any]) -> None:
        if message["type"] == EVENT_MESSAGE_TYPE and len(self.inbox) >= self.inbox_limit:
            return  # a socket stuck this long refills the gap from the log later
        self.inbox.append(message)
        if self.drainer is None:
            self.drainer = asyncio.ensure_future(self.drain())

    async def drain(self) -> None:
        try:
            async with self.busy:
                while self.inbox and not self.closing:
                    message = self.inbox.popleft()
                    if message["type"] == EVENT_MESSAGE_TYPE:
                        try:
                            await self.handle(message["event"], path="live", text=message.get("text"))
                        except Exception:
                            # Never lose the socket over one event: the next one (or a ping) refills the gap.
                            logger.exception("delivering an event failed")
                        continue
                    try:
                        await self.recheck_all()
                    except Exception:
                        # Access could not be re-checked: end the socket rather than risk
                        # sending a revoked project's events; the client resumes.
                        logger.exception("re-checking access failed")
                        self.closing = True
                        await self.socket.close(code=protocol.CLOSE_SERVER_ERROR)
                        return
        finally:
            self.drainer = None

    # Carrying out the decisions

    async def handle(
        self, event: dict[str, Any], *, path: str, text: str | None = None, rechecked: bool = False
    ) -> bool:
        """Act on `decide` for one event until it is delivered or dropped; False once the
        subscription has ended (or the socket is closing)."""
        project_id = event["project"]
        while not self.closing:
            subscription = self.subscriptions.get(project_id)
            decision = decide(
                subscription,
                event,
                user_id=self.user_id,
                now=time.monotonic(),
                recheck_after=self.recheck_after,
                rechecked=rechecked,
            )
            if subscription is None or decision is Decision.DROP:
                return subscription is not None
            if decision is Decision.RECHECK:
                if not await self.may_follow(project_id):
                    await self.revoke(project_id)
                    return False
                subscription.checked_at = time.monotonic()
                rechecked = True
            elif decision is Decision.REFILL:
                if not await self.refill(project_id, subscription, event["seq"] - 1):
                    return False
            else:
                await self.deliver(subscription, event, path=path, text=text)
                return True
        return False

    async def refill(self, project_id: str, subscription: Subscription, up_to: int) -> bool:
        """The layer dropped something: fetch the missing events from the log, in order; a
        gap too big to refill asks the client to reload instead. True if the subscription
        now has everything up to `up_to`."""
        missing = up_to - subscription.seq
        if missing > settings.WS_REPLAY_MAX_EVENTS:
            events = []
        else:
            events = await database_sync_to_async(selectors.events_between)(
                project_id=project_id, after=subscription.seq, up_to=up_to
            )
        if len(events) != missing:
            # The events that cannot be sent may hold this user's own removal: access is
            # checked before the client is told to reload and the events after go out.
            if not await self.may_follow(project_id):
                await self.revoke(project_id)
                return False
            subscription.checked_at = time.monotonic()
            subscription.seq = up_to
            await self.send(protocol.resync_required(project_id, up_to))
            return True
        for activity in events:
            if not await self.handle(event_frame(activity), path="refill"):
                return False
        return self.subscriptions.get(project_id) is subscription and subscription.seq >= up_to

    async def deliver(self, subscription: Subscription, event: dict[str, Any], *, path: str, text: str | None) -> None:
        """Send the next event of a subscription (the one place an event is sent and counted)."""
        subscription.seq = event["seq"]
        if text is None:
            await self.socket.send_json(event)
        else:
            await self.socket.send(text_data=text)
        delivered.add(path)

    async def recheck_all(self) -> None:
        """A project was deleted: every subscription whose access has ended ends now."""
        for project_id in list(self.subscriptions):
            if not await self.may_follow(project_id):
                await self.revoke(project_id)

    async def revoke(self, project_id: str) -> None:
        if self.subscriptions.pop(project_id, None) is None:
            return
        await self.hub.unfollow(project_stream(project_id), self)
        await self.send(protocol.unsubscribed(project_id, protocol.ACCESS_REVOKED))

    async def may_follow(self, project_id: str) -> bool:
        return await database_sync_to_async(selectors.socket_may_follow)(user_id=self.user_id, project_id=project_id)
