"""The process's event hub (realtime.hub): one group membership per project, sockets that
are busy get their events afterwards and in order, and nothing is lost when it overflows."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from realtime import hub as hub_module
from realtime.consumers import BoardConsumer
from realtime.hub import Hub, hub_for
from tests.realtime.test_consumer import Socket, create_task, open_socket
from tests.tasks.conftest import Team
from timetodo.streams import project_stream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def the_hub() -> Hub:
    return hub_for(get_channel_layer())


def follower(team: Team) -> BoardConsumer:
    (consumer,) = the_hub().followers[str(team.project.pk)]
    return consumer


async def following(sockets: list[Socket], team: Team, role: str = "viewer") -> Socket:
    socket = await open_socket(sockets)
    await socket.login(team.users[role])
    assert (await socket.subscribe(team.project.pk))["type"] == "subscribed"
    return socket


async def test_a_project_is_joined_once_however_many_sockets_follow_it(team: Team, sockets) -> None:
    first = await following(sockets, team, "viewer")
    second = await following(sockets, team, "member")
    project = str(team.project.pk)
    assert len(the_hub().followers[project]) == 2
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
        assert len(consumer.inbox) == 1
    assert (await socket.receive())["seq"] == 1
    assert await socket.nothing()
    await create_task(team, "reveals the gap")
    assert [(await socket.receive())["seq"] for _ in range(3)] == [2, 3, 4]


async def test_the_hub_leaves_the_group_when_the_last_socket_goes(team: Team, sockets) -> None:
    first = await following(sockets, team, "viewer")
    second = await following(sockets, team, "member")
    hub = the_hub()
    await first.communicator.disconnect()
    assert str(team.project.pk) in hub.followers
    await second.send({"type": "unsubscribe", "project": str(team.project.pk)})
    assert (await second.receive())["type"] == "unsubscribed"
    assert hub.followers == {}
    assert hub.reader is None
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        assert not layer.groups.get(project_stream(team.project.pk))


async def test_the_hub_keeps_listening_after_the_layer_fails(team: Team, sockets, monkeypatch) -> None:
    layer = get_channel_layer()
    real_receive = layer.receive
    failures: list[str] = []

    async def flaky_receive(channel: str) -> dict[str, Any]:
        if channel == the_hub().channel and not failures:  # (the sockets' own channels keep working)
            failures.append(channel)
            raise ConnectionError("Redis went away")
        return await real_receive(channel)

    monkeypatch.setattr(hub_module, "RETRY_SECONDS", 0.01)
    monkeypatch.setattr(layer, "receive", flaky_receive)
    socket = await following(sockets, team)
    await create_task(team, "after the outage")
    assert (await socket.receive())["data"]["title"] == "after the outage"
    assert len(failures) == 1
