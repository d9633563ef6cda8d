"""The process's event hub (realtime.hub): one group membership per project, sockets that
are busy get their events afterwards and in order, and nothing is lost when it overflows."""

from __future__ import annotations

import asyncio
from typing import Any

import channels.consumer
import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer

from realtime import hub as hub_module
from realtime.consumers import BoardConsumer
from realtime.feed import Feed
from realtime.hub import Hub, hub_for
from tasks import selectors
from tests.helpers.teams import Team
from tests.realtime.test_consumer import Socket, create_task, open_socket
from timetodo.metrics import DELIVERED
from timetodo.streams import project_stream, publish_unsafe, revoke_unsafe, user_stream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def the_hub() -> Hub:
    return hub_for(get_channel_layer())


def follower(team: Team) -> Feed:
    (feed,) = the_hub().followers[project_stream(team.project.pk)]
    assert isinstance(feed, Feed)
    return feed


async def following(sockets: list[Socket], team: Team, role: str = "viewer") -> Socket:
    socket = await open_socket(sockets)
    await socket.login(team.users[role])
    assert (await socket.subscribe(team.project.pk))["type"] == "subscribed"
    return socket


async def test_a_project_is_joined_once_however_many_sockets_follow_it(team: Team, sockets) -> None:
    first = await following(sockets, team, "viewer")
    second = await following(sockets, team, "member")
    project = str(team.project.pk)
    assert len(the_hub().followers[project_stream(project)]) == 2
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):  # (which shows its groups)
        assert len(layer.groups[project_stream(project)]) == 1
    await create_task(team, "for both")
    assert (await first.receive())["data"]["title"] == "for both"
    assert (await second.receive())["data"]["title"] == "for both"


async def test_events_for_a_busy_socket_wait_and_arrive_in_order(team: Team, sockets) -> None:
    socket = await following(sockets, team)
    consumer = follower(team)
    async with consumer.busy:  # as while the socket handles a frame
        await create_task(team, "one")
        await create_task(team, "two")
        assert await socket.nothing()
        assert len(consumer.inbox) == 2
    assert [(await socket.receive())["seq"] for _ in range(2)] == [1, 2]
    assert not consumer.inbox


async def test_events_beyond_a_full_inbox_are_refilled_from_the_log(team: Team, sockets) -> None:
    socket = await following(sockets, team)
    consumer = follower(team)
    consumer.inbox_limit = 1
    async with consumer.busy:
        for title in ("kept", "dropped", "dropped too"):
            await create_task(team, title)
        assert await socket.nothing()  # (on Redis the events reach the hub a moment after the commit)
        assert len(consumer.inbox) == 1
    assert (await socket.receive())["seq"] == 1
    assert await socket.nothing()
    await create_task(team, "reveals the gap")
    assert [(await socket.receive())["seq"] for _ in range(3)] == [2, 3, 4]


def publish_swapped(monkeypatch) -> list[int]:
    """Each pair of events reaches the layer second first, as when two server processes
    commit one after the other and the second publishes sooner."""
    from tasks.events import log as common

    original = common.publish_on_commit
    waiting: list[tuple[str, dict[str, Any]]] = []
    published: list[int] = []

    def swapped(stream: str, event: dict[str, Any]) -> None:
        if not waiting:
            waiting.append((stream, event))
            return
        for stream_, event_ in ((stream, event), waiting.pop()):
            published.append(event_["seq"])
            original(stream_, event_)

    monkeypatch.setattr(common, "publish_on_commit", swapped)
    return published


async def test_an_event_that_overtakes_an_earlier_one_waits_for_it(team: Team, sockets, monkeypatch) -> None:
    read_log: list[int] = []
    events_between = selectors.events_between

    def spy(**kwargs: Any) -> Any:
        read_log.append(kwargs["up_to"])
        return events_between(**kwargs)

    monkeypatch.setattr(selectors, "events_between", spy)
    sockets_ = [await following(sockets, team, role) for role in ("viewer", "member")]
    await create_task(team, "one")
    published = publish_swapped(monkeypatch)
    for title in ("two", "three", "four", "five"):
        await create_task(team, title)
    assert published == [3, 2, 5, 4]
    for socket in sockets_:
        assert [(await socket.receive())["seq"] for _ in range(5)] == [1, 2, 3, 4, 5]
    assert read_log == []  # handed out in order: no socket saw a gap to refill from the log
    assert the_hub().held == {}


async def test_an_event_whose_predecessor_never_comes_goes_out_after_the_wait(team: Team, sockets, monkeypatch) -> None:
    from tasks.events import log as common

    monkeypatch.setattr(hub_module, "REORDER_SECONDS", 0.2)
    socket = await following(sockets, team)
    await create_task(team, "one")
    assert (await socket.receive())["seq"] == 1
    original = common.publish_on_commit
    monkeypatch.setattr(common, "publish_on_commit", lambda stream, event: None)
    await create_task(team, "lost")
    monkeypatch.setattr(common, "publish_on_commit", original)
    await create_task(team, "three")
    assert await socket.nothing(0.1)  # held for the missing seq 2...
    assert 3 in the_hub().held[project_stream(team.project.pk)]
    # ...then handed out: the socket refills seq 2 from the log, in order.
    assert [(await socket.receive())["seq"] for _ in range(2)] == [2, 3]
    assert the_hub().held == {}


async def test_the_hub_leaves_the_group_when_the_last_socket_goes(team: Team, sockets) -> None:
    first = await following(sockets, team, "viewer")
    second = await following(sockets, team, "member")
    hub = the_hub()
    await first.communicator.disconnect()
    assert project_stream(team.project.pk) in hub.followers
    await second.send({"type": "unsubscribe", "project": str(team.project.pk)})
    assert (await second.receive())["type"] == "unsubscribed"
    assert list(hub.followers) == [user_stream(team.users["member"].pk)]  # (the open socket's user)
    assert (hub.last, hub.held, hub.releases) == ({}, {}, {})
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        assert not layer.groups.get(project_stream(team.project.pk))
    await second.communicator.disconnect()
    assert hub.followers == {}
    assert (hub.channels, hub.readers, hub.renewers) == ({}, {}, {})


async def test_the_hub_keeps_listening_after_the_layer_fails(team: Team, sockets, monkeypatch) -> None:
    layer = get_channel_layer()
    real_receive = layer.receive
    failures: list[str] = []

    async def flaky_receive(channel: str) -> dict[str, Any]:
        if channel == the_hub().channels.get("project") and not failures:  # (the sockets' own channels keep working)
            failures.append(channel)
            raise ConnectionError("Redis went away")
        return await real_receive(channel)

    monkeypatch.setattr(hub_module, "RETRY_SECONDS", 0.01)
    monkeypatch.setattr(layer, "receive", flaky_receive)
    socket = await following(sockets, team)
    await create_task(team, "after the outage")
    assert (await socket.receive())["data"]["title"] == "after the outage"
    assert len(failures) == 1


async def test_memberships_are_renewed_before_the_layer_forgets_them(team: Team, sockets, monkeypatch) -> None:
    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):
        pytest.skip("the in-memory layer's expiry can be shortened here; the core layer expires the same way")
    monkeypatch.setattr(layer, "group_expiry", 1)
    monkeypatch.setattr(hub_module, "RENEW_SECONDS", 0.3)
    socket = await following(sockets, team)
    await asyncio.sleep(1.5)  # beyond the expiry of the first group_add
    await create_task(team, "a day later")
    assert (await socket.receive())["data"]["title"] == "a day later"


async def test_a_failed_subscribe_leaves_nothing_followed(team: Team, sockets, monkeypatch) -> None:
    def database_blip(**kwargs: Any) -> None:
        raise RuntimeError("database blip")

    monkeypatch.setattr(selectors, "followed_last_seq", database_blip)
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.send({"type": "subscribe", "project": str(team.project.pk)})
    assert (await socket.receive())["code"] == "server_error"
    assert list(the_hub().followers) == [user_stream(team.users["viewer"].pk)]  # (no project)


async def test_a_revocation_that_cannot_be_checked_closes_the_socket(team: Team, sockets, monkeypatch) -> None:
    socket = await following(sockets, team)
    consumer = follower(team)

    async def database_down(project_id: str) -> bool:
        raise RuntimeError("database down")

    monkeypatch.setattr(consumer, "may_follow", database_down)
    await sync_to_async(revoke_unsafe)(project_stream(team.project.pk), "project_deleted")
    assert await socket.closed_with() == 1011


async def test_nothing_is_sent_after_a_deactivation_even_while_the_close_waits(
    team: Team, sockets, monkeypatch
) -> None:
    real_hop = channels.consumer.aclose_old_connections

    async def busy_database_thread() -> None:
        await asyncio.sleep(0.2)  # the thread every database call shares is busy
        await real_hop()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", busy_database_thread)
    socket = await following(sockets, team)
    viewer = team.users["viewer"]
    await sync_to_async(type(viewer).objects.filter(pk=viewer.pk).update)(is_active=False)
    await sync_to_async(revoke_unsafe)(user_stream(viewer.pk), "user_deactivated")
    await asyncio.sleep(0.05)  # the revocation has reached the socket, the close is pending
    await sync_to_async(publish_unsafe)(
        project_stream(team.project.pk),
        {"type": "event", "project": str(team.project.pk), "seq": 1, "verb": "task.created", "at": "x"},
    )
    assert await socket.closed_with() == 4401


async def test_a_deactivation_reaches_every_socket_of_the_user_through_the_hub(team: Team, sockets) -> None:
    viewer = team.users["viewer"]
    first, second = await following(sockets, team, "viewer"), await following(sockets, team, "viewer")
    bystander = await following(sockets, team, "member")
    assert len(the_hub().followers[user_stream(viewer.pk)]) == 2
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):  # one membership, the hub's: no socket's own channel
        assert set(layer.groups[user_stream(viewer.pk)]) == {the_hub().channels["user"]}
    await sync_to_async(type(viewer).objects.filter(pk=viewer.pk).update)(is_active=False)
    await sync_to_async(revoke_unsafe)(user_stream(viewer.pk), "user_deactivated")
    assert await first.closed_with() == 4401
    assert await second.closed_with() == 4401
    await create_task(team, "for the others")
    assert (await bystander.receive())["data"]["title"] == "for the others"


async def test_no_group_outlives_a_socket_that_crashed(team: Team, sockets, monkeypatch) -> None:
    await following(sockets, team)
    socket = sockets[-1]

    async def crash(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(BoardConsumer, "receive", crash)
    await socket.send({"type": "ping"})
    with pytest.raises(RuntimeError, match="a bug"):
        await socket.communicator.wait(timeout=2)  # (the application itself failed)
    sockets.remove(socket)
    assert the_hub().followers == {}
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        assert not layer.groups.get(project_stream(team.project.pk))
        assert not layer.groups.get(user_stream(team.users["viewer"].pk))


async def test_every_delivery_is_counted_once_by_path(team: Team, sockets, monkeypatch) -> None:
    from tasks.events import log as common

    def delivered() -> dict[str, float]:
        return {path: counter._value.get() for path, counter in DELIVERED.items()}

    before = delivered()
    followers = [await following(sockets, team, role) for role in ("viewer", "member")]
    await create_task(team, "live")
    original = common.publish_on_commit
    monkeypatch.setattr(common, "publish_on_commit", lambda stream, event: None)
    await create_task(team, "lost")
    monkeypatch.setattr(common, "publish_on_commit", original)
    await create_task(team, "reveals the gap")
    for socket in followers:
        assert [(await socket.receive())["seq"] for _ in range(3)] == [1, 2, 3]
    late = await open_socket(sockets)
    await late.login(team.users["admin"])
    await late.send({"type": "subscribe", "project": str(team.project.pk), "since": 0})
    assert [(await late.receive())["type"] for _ in range(4)] == ["event"] * 3 + ["subscribed"]
    await asyncio.sleep(0)  # (counted once per turn of the event loop)
    after = delivered()
    assert {path: after[path] - before[path] for path in after} == {"live": 4, "refill": 2, "replay": 3}
