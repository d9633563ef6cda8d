"""One listener per server process for each followed project, handing events to local sockets.

A project's event may go to hundreds of sockets. Joining every socket's own channel to the
project's group would make the channel layer decode the message once per socket and wake
each consumer's receive loop (a queue, a task, a wait) to send one frame. Instead the
process's hub joins the group once per project, receives each event once, and offers it
to the sockets following that project here, in seq order (an event that overtook an
earlier one on the way waits for it, up to REORDER_SECONDS): a socket that is idle and
next in line gets the pre-encoded frame at once; anything else (a gap to refill, an access re-check, a
socket busy with a frame) is queued on that socket and handled in order by the socket
itself (see `BoardConsumer.offer`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import datetime
from typing import TYPE_CHECKING, Any

from timetodo.metrics import DELIVERED, DELIVERY_LAG
from timetodo.streams import EVENT_MESSAGE_TYPE, REVOKE_MESSAGE_TYPE, project_of_stream, project_stream

if TYPE_CHECKING:
    from realtime.consumers import BoardConsumer

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


class Hub:
    """The followers of each project in this process (one hub per event loop and layer)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.followers: dict[str, set[BoardConsumer]] = {}
        self.channel: str | None = None
        self.reader: asyncio.Task[None] | None = None
        self.renewer: asyncio.Task[None] | None = None
        # Serialises joining and leaving groups: a socket must not read the log before
        # the group it follows has really been joined.
        self.lock = asyncio.Lock()
        # Per project: the highest seq handed out, events held for a missing earlier one,
        # and the timer that releases them. `ordering` keeps hand-outs one at a time.
        self.last: dict[str, int] = {}
        self.held: dict[str, dict[int, dict[str, Any]]] = {}
        self.releases: dict[str, asyncio.TimerHandle] = {}
        self.ordering = asyncio.Lock()
        self.releasing: set[asyncio.Task[None]] = set()

    async def follow(self, project_id: str, consumer: BoardConsumer) -> None:
        async with self.lock:
            consumers = self.followers.get(project_id)
            if not consumers:
                if self.channel is None:
                    # (the default prefix: the core layer reads one list per process prefix)
                    self.channel = await self.layer.new_channel()
                    self.reader = asyncio.ensure_future(self.run(self.channel))
                    self.renewer = asyncio.ensure_future(self.renew(self.channel))
                await self.layer.group_add(project_stream(project_id), self.channel)
                consumers = self.followers[project_id] = set()
            consumers.add(consumer)

    async def unfollow_all(self, consumer: BoardConsumer) -> None:
        """Everything a closing socket follows here, whatever fails on the way."""
        for project_id, consumers in list(self.followers.items()):
            if consumer in consumers:
                try:
                    await self.unfollow(project_id, consumer)
                except Exception:
                    logger.exception("leaving %s failed", project_stream(project_id))

    async def unfollow(self, project_id: str, consumer: BoardConsumer) -> None:
        consumers = self.followers.get(project_id)
        if consumers is None or consumer not in consumers:
            return
        consumers.discard(consumer)
        if consumers:
            return
        async with self.lock:
            if self.followers.get(project_id):
                return  # someone followed it again meanwhile
            self.followers.pop(project_id, None)
            self.forget_order(project_id)
            if self.channel is not None:
                await self.layer.group_discard(project_stream(project_id), self.channel)
            if not self.followers:
                for task in (self.reader, self.renewer):
                    if task is not None:
                        task.cancel()
                self.reader, self.renewer, self.channel = None, None, None

    async def renew(self, channel: str) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            async with self.lock:
                for project_id in list(self.followers):
                    try:
                        await self.layer.group_add(project_stream(project_id), channel)
                    except Exception:
                        logger.exception("renewing %s failed", project_stream(project_id))

    async def run(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
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
            followers = self.followers.get(project_of_stream(message["stream"]), set())
            for consumer in list(followers):
                consumer.enqueue(message)

    async def hand_out(self, message: dict[str, Any]) -> None:
        """Offer a project's events to its sockets here in seq order. Without holding an
        early one back, every socket would see a gap and read the log for it at once."""
        event = message["event"]
        project_id, seq = event["project"], event["seq"]
        async with self.ordering:
            if project_id not in self.followers:
                return  # (left meanwhile)
            last = self.last.get(project_id)
            if last is not None and seq > last + 1:
                self.held.setdefault(project_id, {})[seq] = message
                if project_id not in self.releases:
                    loop = asyncio.get_running_loop()
                    self.releases[project_id] = loop.call_later(REORDER_SECONDS, self.release, project_id)
                return
            self.last[project_id] = max(seq, last or 0)
            await self.offer_all(message)
            await self.hand_out_held(project_id, waiting_for_gap=True)

    def release(self, project_id: str) -> None:
        """The missing event did not come: what was held goes out, gap and all."""
        self.releases.pop(project_id, None)

        async def release() -> None:
            async with self.ordering:
                await self.hand_out_held(project_id, waiting_for_gap=False)

        task = asyncio.ensure_future(release())
        self.releasing.add(task)  # (the loop keeps only a weak reference to a task)
        task.add_done_callback(self.releasing.discard)

    async def hand_out_held(self, project_id: str, *, waiting_for_gap: bool) -> None:
        held = self.held.get(project_id)
        while held:
            seq = min(held)
            if waiting_for_gap and seq > self.last[project_id] + 1:
                return
            message = held.pop(seq)
            self.last[project_id] = max(seq, self.last[project_id])
            await self.offer_all(message)
            if self.held.get(project_id) is not held:
                return  # the last socket left meanwhile: its order state is gone
        self.forget_order(project_id, keep_last=True)

    def forget_order(self, project_id: str, *, keep_last: bool = False) -> None:
        self.held.pop(project_id, None)
        timer = self.releases.pop(project_id, None)
        if timer is not None:
            timer.cancel()
        if not keep_last:
            self.last.pop(project_id, None)

    async def offer_all(self, message: dict[str, Any]) -> None:
        event = message["event"]
        delivered = 0
        for consumer in list(self.followers.get(event["project"], ())):
            try:
                delivered += await consumer.offer(message)
            except Exception:
                logger.exception("offering an event to a socket failed")
        if delivered:
            DELIVERED["live"].inc(delivered)
            # Commit to the last of this process's sockets that got it at once.
            DELIVERY_LAG.observe(max(0.0, time.time() - datetime.fromisoformat(event["at"]).timestamp()))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub_for(layer: Any) -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = Hub(layer)
    return hub
