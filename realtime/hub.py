"""One listener per server process for each followed stream, handing its messages to local sockets.

A project's event may go to hundreds of sockets. Joining every socket's own channel to the
project's group would make the channel layer decode the message once per socket and wake
each consumer's receive loop (a queue, a task, a wait) to send one frame. Instead the
process's hub joins each group once, receives each message once, and hands it to the
followers of that stream here:

- events (project streams) in seq order: an event that overtook an earlier one on the way
  waits for it, up to REORDER_SECONDS. Each follower's `offer` sends the pre-encoded frame
  at once if it can (idle, next in line) or queues it for itself;
- revocations (project streams: deleted; user streams: deactivated) to `revoked`.

Project streams and user streams are received on two channels of their own: a layer with a
capacity drops messages for a full channel, and while a dropped event is refilled from
the log, a dropped deactivation would be in no log. The user channel carries only what
is said to users, never a project's stream of events.

The hub knows its followers only as `Follower` (realtime.feed's `Feed` is one).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import datetime
from typing import Any, Protocol

from timetodo.metrics import DELIVERY_LAG
from timetodo.streams import EVENT_MESSAGE_TYPE, REVOKE_MESSAGE_TYPE, project_stream

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# The core and in-memory layers forget a group member a day (group_expiry) after it
# joined: the hub renews its memberships well before that.
RENEW_SECONDS = 3600.0
# Several server processes publish a project's events, each after its own commit, so two
# consecutive events can reach the layer in the opposite order. One that arrives ahead of
# a missing seq waits this long for it before going out anyway (the layer really dropped
# it: each socket then refills the gap from the log).
REORDER_SECONDS = 0.5


class Follower(Protocol):
    """What the hub hands a stream's messages to (one per socket)."""

    async def offer(self, message: dict[str, Any]) -> bool:
        """An event of a followed project: True if it was sent at once, False if it was
        queued or is not for this socket."""
        ...

    def revoked(self, message: dict[str, Any]) -> None:
        """A revocation on a followed stream: a user's deactivation must stop every send
        before this returns; a project's deletion is re-checked in order with what the
        socket has queued."""
        ...


def being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def kind_of(stream: str) -> str:
    """`project` or `user`: which of the hub's channels a stream is received on."""
    return stream.partition(".")[0]


class Hub:
    """The followers of each stream in this process (one hub per event loop and layer)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.followers: dict[str, set[Follower]] = {}
        # Per kind of stream (kind_of): the channel it is received on, and its tasks.
        self.channels: dict[str, str] = {}
        self.readers: dict[str, asyncio.Task[None]] = {}
        self.renewers: dict[str, asyncio.Task[None]] = {}
        # Serialises joining and leaving groups: a socket must not read the log before
        # the group it follows has really been joined.
        self.lock = asyncio.Lock()
        # Per project stream: the highest seq handed out, events held for a missing earlier one,
        # and the timer that releases them. `ordering` keeps hand-outs one at a time.
        self.last: dict[str, int] = {}
        self.held: dict[str, dict[int, dict[str, Any]]] = {}
        self.releases: dict[str, asyncio.TimerHandle] = {}
        self.ordering = asyncio.Lock()
        self.releasing: set[asyncio.Task[None]] = set()

    async def follow(self, stream: str, follower: Follower) -> None:
        async with self.lock:
            followers = self.followers.get(stream)
            if not followers:
                kind = kind_of(stream)
                channel = self.channels.get(kind)
                if channel is None:
                    # (the default prefix: the core layer reads one list per process prefix)
                    channel = self.channels[kind] = await self.layer.new_channel()
                    self.readers[kind] = asyncio.ensure_future(self.run(channel))
                    self.renewers[kind] = asyncio.ensure_future(self.renew(kind, channel))
                await self.layer.group_add(stream, channel)
                followers = self.followers[stream] = set()
            followers.add(follower)

    async def unfollow_all(self, follower: Follower) -> None:
        """Everything a closing socket follows here, whatever fails on the way. The follower
        leaves every set at once, before any wait: even if this is cancelled (again) while
        it leaves the layer's groups, no stream keeps handing it messages."""
        left = []
        for stream, followers in list(self.followers.items()):
            if follower in followers:
                followers.discard(follower)
                left.append(stream)
        for stream in left:
            try:
                await self.leave_if_unfollowed(stream)
            except Exception:
                logger.exception("leaving %s failed", stream)

    async def unfollow(self, stream: str, follower: Follower) -> None:
        followers = self.followers.get(stream)
        if followers is None or follower not in followers:
            return
        followers.discard(follower)
        await self.leave_if_unfollowed(stream)

    async def leave_if_unfollowed(self, stream: str) -> None:
        """Leave the stream's group once nobody here follows it (and the channel once no
        stream of its kind is followed)."""
        if self.followers.get(stream):
            return
        async with self.lock:
            if stream not in self.followers or self.followers[stream]:
                return  # left already, or someone followed it again meanwhile
            self.followers.pop(stream)
            self.forget_order(stream)
            kind = kind_of(stream)
            channel = self.channels.get(kind)
            if channel is not None:
                await self.layer.group_discard(stream, channel)
            if channel is not None and not any(kind_of(other) == kind for other in self.followers):
                for tasks in (self.readers, self.renewers):
                    task = tasks.pop(kind, None)
                    if task is not None:
                        task.cancel()
                self.channels.pop(kind, None)

    async def renew(self, kind: str, channel: str) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            async with self.lock:
                for stream in [stream for stream in self.followers if kind_of(stream) == kind]:
                    try:
                        await self.layer.group_add(stream, channel)
                    except Exception:
                        logger.exception("renewing %s failed", stream)

    async def run(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                if being_cancelled():
                    # redis-py can turn a cancellation that meets its own read timeout into
                    # a TimeoutError: retrying would keep a stopped hub (and a process
                    # that is shutting down) waiting forever.
                    raise asyncio.CancelledError from None
                # Redis is down or restarting: keep trying. Sockets refill whatever they
                # missed from the activity log (on the next event or ping).
                logger.exception("receiving events failed; retrying in %s s", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            try:
                await self.handle(message)
            except Exception:
                # One odd message must not stop live delivery for the whole process.
                logger.exception("handling a %s message failed", message.get("type"))

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == EVENT_MESSAGE_TYPE:
            await self.hand_out(message)
        elif kind == REVOKE_MESSAGE_TYPE:
            for follower in list(self.followers.get(message["stream"], ())):
                try:
                    follower.revoked(message)
                except Exception:
                    logger.exception("revoking on a socket failed")

    async def hand_out(self, message: dict[str, Any]) -> None:
        """Offer a project's events to its sockets here in seq order. Without holding an
        early one back, every socket would see a gap and read the log for it at once."""
        event = message["event"]
        stream, seq = project_stream(event["project"]), event["seq"]
        if message.get("stream") != stream:
            # Only a project's own stream carries its events: anything else published with
            # an event inside (to a user's stream, say) would reach the project's followers.
            logger.warning("dropped an event of %s published on %s", stream, message.get("stream"))
            return
        async with self.ordering:
            if stream not in self.followers:
                return  # (left meanwhile)
            last = self.last.get(stream)
            if last is not None and seq > last + 1:
                self.held.setdefault(stream, {})[seq] = message
                if stream not in self.releases:
                    loop = asyncio.get_running_loop()
                    self.releases[stream] = loop.call_later(REORDER_SECONDS, self.release, stream)
                return
            self.last[stream] = max(seq, last or 0)
            await self.offer_all(stream, message)
            await self.hand_out_held(stream, waiting_for_gap=True)

    def release(self, stream: str) -> None:
        """The missing event did not come: what was held goes out, gap and all."""
        self.releases.pop(stream, None)

        async def release() -> None:
            async with self.ordering:
                await self.hand_out_held(stream, waiting_for_gap=False)

        task = asyncio.ensure_future(release())
        self.releasing.add(task)  # (the loop keeps only a weak reference to a task)
        task.add_done_callback(self.releasing.discard)

    async def hand_out_held(self, stream: str, *, waiting_for_gap: bool) -> None:
        held = self.held.get(stream)
        while held:
            seq = min(held)
            if waiting_for_gap and seq > self.last[stream] + 1:
                return
            message = held.pop(seq)
            self.last[stream] = max(seq, self.last[stream])
            await self.offer_all(stream, message)
            if self.held.get(stream) is not held:
                return  # the last socket left meanwhile: its order state is gone
        self.forget_order(stream, keep_last=True)

    def forget_order(self, stream: str, *, keep_last: bool = False) -> None:
        self.held.pop(stream, None)
        timer = self.releases.pop(stream, None)
        if timer is not None:
            timer.cancel()
        if not keep_last:
            self.last.pop(stream, None)

    async def offer_all(self, stream: str, message: dict[str, Any]) -> None:
        sent = False
        for follower in list(self.followers.get(stream, ())):
            try:
                sent = await follower.offer(message) or sent
            except Exception:
                logger.exception("offering an event to a socket failed")
        if sent:
            # Commit to the last of this process's sockets that got it at once.
            event = message["event"]
            DELIVERY_LAG.observe(max(0.0, time.time() - datetime.fromisoformat(event["at"]).timestamp()))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub_for(layer: Any) -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = Hub(layer)
    return hub
