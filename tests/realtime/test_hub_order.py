"""The hub's ordering (realtime.hub.Hub.hand_out) with a fake layer and fake followers: an
event that overtook an earlier one waits for it, up to REORDER_SECONDS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from realtime import hub as hub_module
from realtime.hub import Hub
from timetodo.streams import EVENT_MESSAGE_TYPE, REVOKE_MESSAGE_TYPE, project_stream, user_stream

pytestmark = pytest.mark.asyncio

PROJECT = "5d7c1f0e-9b4a-4c2e-8f3d-2a6b7c8d9e01"
OTHER_PROJECT = "9e3b2c1d-0a4f-4b6e-8d7c-1f2e3d4c5b6a"
WAIT = 0.2  # REORDER_SECONDS here


class FakeLayer:
    def __init__(self) -> None:
        self.groups: dict[str, set[str]] = {}
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.made = 0
        self.discard_delay = 0.0

    async def new_channel(self) -> str:
        self.made += 1
        return f"hub.fake!{self.made}"

    async def group_add(self, group: str, channel: str) -> None:
        self.groups.setdefault(group, set()).add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await asyncio.sleep(self.discard_delay)
        self.groups.get(group, set()).discard(channel)

    async def receive(self, channel: str) -> dict[str, Any]:
        return await self.messages.get()


class Recorder:
    """A follower that takes every event it is offered (the real one decides by seq)."""

    def __init__(self) -> None:
        self.seqs: list[tuple[str, int]] = []
        self.revocations: list[dict[str, Any]] = []

    async def offer(self, message: dict[str, Any]) -> bool:
        self.seqs.append((message["event"]["project"], message["event"]["seq"]))
        return True

    def revoked(self, message: dict[str, Any]) -> None:
        self.revocations.append(message)

    def of(self, project: str = PROJECT) -> list[int]:
        return [seq for project_, seq in self.seqs if project_ == project]


def message(seq: int, project: str = PROJECT) -> dict[str, Any]:
    event = {"type": "event", "project": project, "seq": seq, "at": datetime.now(UTC).isoformat()}
    return {"type": EVENT_MESSAGE_TYPE, "stream": project_stream(project), "event": event, "text": "{}"}


@pytest.fixture
async def hub(monkeypatch) -> AsyncIterator[Hub]:
    monkeypatch.setattr(hub_module, "REORDER_SECONDS", WAIT)
    hub = Hub(FakeLayer())
    yield hub
    for task in [*hub.readers.values(), *hub.renewers.values()]:
        task.cancel()


async def followed(hub: Hub, *projects: str) -> Recorder:
    recorder = Recorder()
    for project in projects or (PROJECT,):
        await hub.follow(project_stream(project), recorder)
    return recorder


async def hand_out(hub: Hub, *seqs: int, project: str = PROJECT) -> None:
    for seq in seqs:
        await hub.handle(message(seq, project))


async def test_events_in_order_go_out_at_once(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 1, 2, 3)
    assert follower.of() == [1, 2, 3]
    assert (hub.held, hub.releases) == ({}, {})


async def test_the_first_event_goes_out_whatever_its_seq(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 41)  # (nothing to wait for: the hub has seen nothing of this project yet)
    assert follower.of() == [41]


async def test_an_event_ahead_waits_then_goes_out_gap_and_all(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 1, 4, 3)  # 2 never comes
    assert follower.of() == [1]
    assert sorted(hub.held[project_stream(PROJECT)]) == [3, 4]
    await asyncio.sleep(WAIT / 2)
    assert follower.of() == [1]  # still waiting
    await asyncio.sleep(WAIT * 2)
    assert follower.of() == [1, 3, 4]  # in seq order; each follower refills 2 from the log
    assert (hub.held, hub.releases) == ({}, {})
    assert hub.last[project_stream(PROJECT)] == 4


async def test_the_missing_event_releases_the_held_ones_in_order(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 1, 4, 3)
    await hand_out(hub, 2)
    assert follower.of() == [1, 2, 3, 4]  # at once, not after the wait
    assert (hub.held, hub.releases) == ({}, {})
    await asyncio.sleep(WAIT * 2)
    assert follower.of() == [1, 2, 3, 4]  # (the timer was cancelled: nothing twice)


async def test_a_missing_event_releases_only_up_to_the_next_gap(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 1, 3, 5)
    await hand_out(hub, 2)
    assert follower.of() == [1, 2, 3]
    assert list(hub.held[project_stream(PROJECT)]) == [5]  # still waiting for 4
    await asyncio.sleep(WAIT * 2)
    assert follower.of() == [1, 2, 3, 5]


async def test_a_straggler_after_the_wait_still_goes_out(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 1, 3)
    await asyncio.sleep(WAIT * 2)
    await hand_out(hub, 2)  # late: the followers drop it or already refilled it, by seq
    assert follower.of() == [1, 3, 2]
    await hand_out(hub, 4)
    assert follower.of() == [1, 3, 2, 4]


async def test_projects_are_ordered_independently(hub: Hub) -> None:
    follower = await followed(hub, PROJECT, OTHER_PROJECT)
    await hand_out(hub, 1, 3)
    await hand_out(hub, 1, 2, project=OTHER_PROJECT)
    assert follower.of() == [1]
    assert follower.of(OTHER_PROJECT) == [1, 2]
    await hand_out(hub, 2)
    assert follower.of() == [1, 2, 3]


async def test_leaving_forgets_the_order_state(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 1, 3)
    await hub.unfollow(project_stream(PROJECT), follower)
    assert (hub.last, hub.held, hub.releases) == ({}, {}, {})
    assert (hub.channels, hub.readers) == ({}, {})
    await asyncio.sleep(WAIT * 2)
    assert follower.of() == [1]  # the held event is gone with the state
    # Followed again, the project starts afresh: its next event is not held for seq 2.
    await hub.follow(project_stream(PROJECT), follower)
    await hand_out(hub, 7)
    assert follower.of() == [1, 7]


async def test_events_of_a_project_nobody_follows_here_are_ignored(hub: Hub) -> None:
    follower = await followed(hub)
    await hand_out(hub, 1, project=OTHER_PROJECT)
    assert follower.seqs == []
    assert project_stream(OTHER_PROJECT) not in hub.last


async def test_a_revocation_goes_to_the_followers_of_its_stream_only(hub: Hub) -> None:
    on_project, on_user = await followed(hub), Recorder()
    await hub.follow(user_stream("u-1"), on_user)
    revocation = {"type": REVOKE_MESSAGE_TYPE, "stream": user_stream("u-1"), "reason": "user_deactivated"}
    await hub.handle(revocation)
    assert (on_project.revocations, on_user.revocations) == ([], [revocation])


async def test_messages_read_from_the_layer_are_handed_out(hub: Hub) -> None:
    follower = await followed(hub)
    layer = hub.layer
    assert layer.groups[project_stream(PROJECT)] == {hub.channels["project"]}
    for seq in (1, 3, 2):
        layer.messages.put_nowait(message(seq))
    for _ in range(20):
        if len(follower.seqs) == 3:
            break
        await asyncio.sleep(0.01)
    assert follower.of() == [1, 2, 3]


async def test_users_streams_are_received_on_a_channel_of_their_own(hub: Hub) -> None:
    # A full channel drops messages (the in-memory and core layers have a capacity): a
    # project's flood of events must never crowd out a deactivation, which is in no log.
    follower = await followed(hub)
    await hub.follow(user_stream("u-1"), follower)
    layer = hub.layer
    assert hub.channels["project"] != hub.channels["user"]
    assert layer.groups[project_stream(PROJECT)] == {hub.channels["project"]}
    assert layer.groups[user_stream("u-1")] == {hub.channels["user"]}
    await hub.unfollow(user_stream("u-1"), follower)
    assert set(hub.channels) == {"project"}  # the user channel closes with its last stream


async def test_an_event_published_on_another_stream_than_its_projects_is_dropped(hub: Hub) -> None:
    follower = await followed(hub)
    await hub.handle({**message(1), "stream": user_stream("u-1")})
    assert follower.seqs == []
    await hub.handle(message(1))
    assert follower.of() == [1]


async def test_a_follower_leaves_every_stream_at_once_even_if_leaving_is_cancelled(hub: Hub) -> None:
    follower = await followed(hub, PROJECT, OTHER_PROJECT)
    await hub.follow(user_stream("u-1"), follower)
    hub.layer.discard_delay = 1.0  # the layer is slow to answer
    leaving = asyncio.ensure_future(hub.unfollow_all(follower))
    await asyncio.sleep(0.05)
    leaving.cancel()  # (Daphne cancels an application that is slow to finish, again and again)
    with contextlib.suppress(asyncio.CancelledError):
        await leaving
    assert all(follower not in followers for followers in hub.followers.values())
    await hand_out(hub, 1)
    assert follower.seqs == []


async def test_a_cancelled_reader_stops_even_if_the_layer_turns_the_cancel_into_an_error(hub: Hub) -> None:
    # (redis-py turns a cancellation that meets its own read timeout into a TimeoutError;
    # a reader that retried then kept the event loop from ever closing)
    layer = hub.layer
    turned = asyncio.Event()

    async def receive(channel: str) -> dict[str, Any]:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            turned.set()
            raise TimeoutError from None
        raise AssertionError("not cancelled")

    layer.receive = receive
    await followed(hub)
    reader = hub.readers["project"]
    await asyncio.sleep(0.01)
    reader.cancel()
    await asyncio.wait_for(asyncio.gather(reader, return_exceptions=True), timeout=2)
    assert turned.is_set()
    assert reader.cancelled()
