"""The /ws/ socket protocol with WebsocketCommunicator (docs/api.md "WebSocket — /ws/")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tasks.models import Membership
from tests.helpers.teams import Team, client_for
from timetodo.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = [(b"origin", b"http://testserver")]


def token_for(user: User) -> str:
    return str(AccessToken.for_user(user))


class Socket:
    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.communicator = WebsocketCommunicator(application, "/ws/", headers=ORIGIN + (headers or []))

    async def open(self) -> None:
        connected, _ = await self.communicator.connect()
        assert connected

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_json_to(frame)

    async def receive(self, timeout: float = 2) -> dict[str, Any]:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)

    async def closed_with(self, timeout: float = 2) -> int:
        message = await self.communicator.receive_output(timeout=timeout)
        assert message["type"] == "websocket.close", message
        return int(message["code"])

    async def login(self, user: User) -> dict[str, Any]:
        await self.send({"type": "auth", "token": token_for(user)})
        hello = await self.receive()
        assert hello["type"] == "hello", hello
        return hello

    async def subscribe(self, project: Any, since: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "project": str(project)}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        return await self.receive()


async def open_socket(sockets: list[Socket], headers: list[tuple[bytes, bytes]] | None = None) -> Socket:
    socket = Socket(headers)
    sockets.append(socket)
    await socket.open()
    return socket


async def rest(client: APIClient, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    response = await sync_to_async(getattr(client, method))(url, body or {}, format="json")
    assert response.status_code < 400, response.content
    return response.json() if response.content else None


async def create_task(team: Team, title: str = "live", role: str = "member") -> dict[str, Any]:
    return await rest(team.clients[role], "post", "/api/v1/tasks/", {"project": str(team.project.pk), "title": title})


# Authentication


async def test_auth_by_token_frame(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    hello = await socket.login(team.users["member"])
    assert hello["user"]["id"] == str(team.users["member"].pk)
    assert hello["heartbeat"] > 0


async def test_auth_by_session_cookie(team: Team, sockets) -> None:
    client = Client()
    await sync_to_async(client.force_login)(team.users["viewer"])
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = await open_socket(sockets, [(b"cookie", cookie)])
    hello = await socket.receive()
    assert hello["type"] == "hello"
    assert hello["user"]["username"] == "viewer-user"


@pytest.mark.parametrize("token", ["garbage", "", "expired", "refresh", "inactive"])
async def test_bad_tokens_close_with_4401(team: Team, sockets, token: str) -> None:
    user = team.users["member"]
    if token == "expired":
        access = AccessToken.for_user(user)
        access.set_exp(lifetime=-timedelta(seconds=1))
        token = str(access)
    elif token == "refresh":
        from rest_framework_simplejwt.tokens import RefreshToken

        token = str(await sync_to_async(RefreshToken.for_user)(user))
    elif token == "inactive":
        token = token_for(user)
        await sync_to_async(User.objects.filter(pk=user.pk).update)(is_active=False)
    socket = await open_socket(sockets)
    await socket.send({"type": "auth", "token": token})
    assert await socket.closed_with() == 4401


async def test_frames_before_auth_close_with_4401(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.send({"type": "subscribe", "project": str(team.project.pk)})
    assert await socket.closed_with() == 4401


async def test_no_auth_within_the_timeout_closes_with_4401(team: Team, sockets, settings) -> None:
    settings.WS_AUTH_TIMEOUT_SECONDS = 1
    socket = await open_socket(sockets)
    assert await socket.closed_with(timeout=3) == 4401


async def test_ping_works_before_auth(sockets) -> None:
    socket = await open_socket(sockets)
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}


# Subscriptions and events


async def test_events_arrive_for_changes_made_by_someone_else(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    subscribed = await socket.subscribe(team.project.pk)
    assert subscribed == {"type": "subscribed", "project": str(team.project.pk), "seq": 0}
    task = await create_task(team, "made by the member")
    event = await socket.receive()
    assert event["type"] == "event"
    assert (event["project"], event["seq"], event["verb"]) == (str(team.project.pk), 1, "task.created")
    assert event["actor"] == str(team.users["member"].pk)
    assert event["target_type"] == "task"
    assert event["target_id"] == task["id"]
    assert event["data"] == task  # the object as the REST API shows it
    assert isinstance(event["changes"], dict)
    assert isinstance(event["at"], str)
    await rest(team.clients["member"], "patch", f"/api/v1/tasks/{task['id']}/", {"title": "renamed"})
    updated = await socket.receive()
    assert (updated["seq"], updated["verb"], updated["changes"]) == (
        2,
        "task.updated",
        {"title": ["made by the member", "renamed"]},
    )


async def test_a_foreign_project_is_not_found_and_leaks_nothing(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["outsider"])
    refused = await socket.subscribe(team.project.pk)
    assert refused == {"type": "error", "code": "not_found", "project": str(team.project.pk)}
    missing = await socket.subscribe("00000000-0000-0000-0000-000000000000")
    assert missing["code"] == "not_found"
    await create_task(team)
    assert await socket.nothing()


async def test_resume_with_since_returns_exactly_the_missed_events(team: Team, sockets) -> None:
    for n in range(3):
        await create_task(team, f"t{n}")
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.send({"type": "subscribe", "project": str(team.project.pk), "since": 1})
    replayed = [await socket.receive() for _ in range(2)]
    assert [(e["seq"], e["data"]["title"]) for e in replayed] == [(2, "t1"), (3, "t2")]
    assert await socket.receive() == {"type": "subscribed", "project": str(team.project.pk), "seq": 3}
    await create_task(team, "t3")
    assert (await socket.receive())["seq"] == 4


async def test_since_beyond_the_window_asks_for_a_resync(team: Team, sockets, settings) -> None:
    settings.WS_REPLAY_MAX_EVENTS = 2
    for n in range(3):
        await create_task(team, f"t{n}")
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    answer = await socket.subscribe(team.project.pk, since=0)
    assert answer == {"type": "resync_required", "project": str(team.project.pk), "seq": 3}
    await create_task(team, "after")
    assert (await socket.receive())["seq"] == 4  # still subscribed from the current seq


async def test_a_gap_from_a_dropped_message_is_refilled_from_the_log(team: Team, sockets, monkeypatch) -> None:
    from tasks.events import log as common

    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    original = common.publish_on_commit
    dropped: list[int] = []

    def lossy(stream: str, event: dict[str, Any]) -> None:
        if not dropped:  # the layer loses the first message, as channels-redis may under load
            dropped.append(event["seq"])
            return
        original(stream, event)

    monkeypatch.setattr(common, "publish_on_commit", lossy)
    await create_task(team, "lost in transit")
    await create_task(team, "arrives")
    first, second = await socket.receive(), await socket.receive()
    assert dropped == [1]
    assert [(first["seq"], first["data"]["title"]), (second["seq"], second["data"]["title"])] == [
        (1, "lost in transit"),
        (2, "arrives"),
    ]


async def test_removed_members_are_unsubscribed_at_once(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["member"])
    await socket.subscribe(team.project.pk)
    await rest(team.clients["admin"], "delete", team.url(f"members/{team.users['member'].pk}/"))
    revoked = await socket.receive()
    assert revoked == {"type": "unsubscribed", "project": str(team.project.pk), "reason": "access_revoked"}
    await create_task(team, "secret", role="admin")
    assert await socket.nothing()


async def test_a_deleted_project_unsubscribes_its_sockets(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    await rest(team.clients["owner"], "delete", team.url())
    assert await socket.receive() == {
        "type": "unsubscribed",
        "project": str(team.project.pk),
        "reason": "access_revoked",
    }


async def test_access_is_rechecked_before_delivering(team: Team, sockets, settings) -> None:
    settings.WS_ACCESS_RECHECK_SECONDS = 0  # re-check on every event
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    # Membership ends without any event (as a direct database change would).
    await sync_to_async(Membership.objects.filter(user=team.users["viewer"]).delete)()
    await create_task(team, "after removal")
    assert (await socket.receive())["reason"] == "access_revoked"
    assert await socket.nothing()


async def test_a_deactivated_users_sockets_are_closed(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    operator = Client()
    root = await sync_to_async(User.objects.create_superuser)(username="root", email="r@x.io", password="x" * 12)
    await sync_to_async(operator.force_login)(root)
    response = await sync_to_async(operator.post)(
        "/admin/accounts/user/",
        {"action": "deactivate_users", "_selected_action": [str(team.users["viewer"].pk)]},
        secure=True,
    )
    assert response.status_code == 302
    assert await socket.closed_with() == 4401


async def test_unsubscribe_stops_events(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    await socket.send({"type": "unsubscribe", "project": str(team.project.pk)})
    assert await socket.receive() == {"type": "unsubscribed", "project": str(team.project.pk)}
    await create_task(team)
    assert await socket.nothing()


async def test_several_projects_on_one_socket(team: Team, sockets) -> None:
    other = await rest(team.clients["viewer"], "post", "/api/v1/projects/", {"name": "Mine", "key": "MINE"})
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    await socket.subscribe(other["id"])
    await create_task(team, "in TTD")
    viewer_client = await sync_to_async(client_for)(team.users["viewer"])
    await rest(viewer_client, "post", "/api/v1/tasks/", {"project": other["id"], "title": "in MINE"})
    first, second = await socket.receive(), await socket.receive()
    assert {(first["project"], first["seq"]), (second["project"], second["seq"])} == {
        (str(team.project.pk), 1),
        (other["id"], 1),
    }


# Bad frames and limits


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": "dance"}',
        '{"type": "subscribe"}',
        '{"type": "subscribe", "project": "x"}',
        '{"type": "subscribe", "project": "00000000-0000-0000-0000-000000000000", "since": -1}',
    ],
)
async def test_malformed_frames_get_bad_request_and_the_socket_stays(team: Team, sockets, raw: str) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.communicator.send_to(text_data=raw)
    answer = await socket.receive()
    assert (answer["type"], answer["code"]) == ("error", "bad_request")
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}


async def test_frames_over_64_kib_close_with_1009(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.communicator.send_to(text_data='{"type": "ping", "pad": "' + "x" * 70_000 + '"}')
    assert await socket.closed_with() == 1009


async def test_subscriptions_are_limited(team: Team, sockets, settings) -> None:
    settings.WS_MAX_SUBSCRIPTIONS = 1
    other = await rest(team.clients["viewer"], "post", "/api/v1/projects/", {"name": "Mine", "key": "MINE"})
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    refused = await socket.subscribe(other["id"])
    assert refused["code"] == "too_many_subscriptions"


async def test_frames_are_rate_limited(team: Team, sockets, settings) -> None:
    settings.WS_RATE_BURST = 3
    settings.WS_RATE_PER_SECOND = 1
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    answers = []
    for _ in range(5):
        await socket.send({"type": "ping"})
        answers.append((await socket.receive())["type"])
    assert answers.count("pong") <= 3
    assert "error" in answers


# Review findings: robustness and edge cases


async def test_deeply_nested_frames_are_bad_requests(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.communicator.send_to(text_data="[" * 5000 + "]" * 5000)
    assert (await socket.receive())["code"] == "bad_request"
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}


async def test_resuming_across_a_removal_and_re_add_keeps_the_subscription(team: Team, sockets) -> None:
    viewer = team.users["viewer"]
    await rest(team.clients["admin"], "delete", team.url(f"members/{viewer.pk}/"))
    await rest(team.clients["admin"], "post", team.url("members/"), {"user": str(viewer.pk), "role": "viewer"})
    socket = await open_socket(sockets)
    await socket.login(viewer)
    await socket.send({"type": "subscribe", "project": str(team.project.pk), "since": 0})
    frames = [await socket.receive() for _ in range(3)]
    assert [f.get("verb") or f["type"] for f in frames] == ["member.removed", "member.added", "subscribed"]
    await create_task(team)
    assert (await socket.receive())["seq"] == 3


async def test_a_refused_resubscribe_ends_the_old_subscription(team: Team, sockets) -> None:
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    await sync_to_async(Membership.objects.filter(user=team.users["viewer"]).delete)()
    assert (await socket.subscribe(team.project.pk))["code"] == "not_found"
    await create_task(team)
    assert await socket.nothing()


async def test_a_lost_last_event_is_recovered_on_ping(team: Team, sockets, monkeypatch) -> None:
    from tasks.events import log as common

    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    monkeypatch.setattr(common, "publish_on_commit", lambda stream, event: None)  # the layer loses it
    await create_task(team, "quiet project")
    assert await socket.nothing()
    await socket.send({"type": "ping"})
    event = await socket.receive()
    assert (event["seq"], event["data"]["title"]) == (1, "quiet project")
    assert await socket.receive() == {"type": "pong"}


async def test_a_gap_too_big_to_refill_asks_for_a_resync(team: Team, sockets, monkeypatch, settings) -> None:
    from tasks.events import log as common

    settings.WS_REPLAY_MAX_EVENTS = 1
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    original = common.publish_on_commit
    monkeypatch.setattr(common, "publish_on_commit", lambda stream, event: None)
    await create_task(team, "lost 1")
    await create_task(team, "lost 2")
    monkeypatch.setattr(common, "publish_on_commit", original)
    await create_task(team, "arrives")
    assert await socket.receive() == {"type": "resync_required", "project": str(team.project.pk), "seq": 2}
    assert (await socket.receive())["seq"] == 3


async def test_replays_are_charged_to_the_rate_limit(team: Team, sockets, settings) -> None:
    settings.WS_REPLAY_EVENTS_PER_FRAME = 1
    settings.WS_RATE_PER_SECOND = 1
    settings.WS_RATE_BURST = 6  # auth 1 + subscribe 1 + a replay of 3 events 3
    for n in range(3):
        await create_task(team, f"t{n}")
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.send({"type": "subscribe", "project": str(team.project.pk), "since": 0})
    assert [(await socket.receive())["type"] for _ in range(4)] == ["event", "event", "event", "subscribed"]
    await socket.send({"type": "subscribe", "project": str(team.project.pk), "since": 0})
    assert (await socket.receive())["code"] == "rate_limited"


async def test_deactivating_in_the_admin_form_closes_the_users_sockets(team: Team, sockets) -> None:
    viewer = team.users["viewer"]
    socket = await open_socket(sockets)
    await socket.login(viewer)
    operator = Client()
    root = await sync_to_async(User.objects.create_superuser)(username="root", email="r@x.io", password="x" * 12)
    await sync_to_async(operator.force_login)(root)
    response = await sync_to_async(operator.post)(
        f"/admin/accounts/user/{viewer.pk}/change/",
        {"username": viewer.username, "email": viewer.email, "full_name": viewer.full_name},  # is_active unticked
        secure=True,
    )
    assert response.status_code == 302, response.content[:500]
    assert await socket.closed_with() == 4401


async def test_a_removal_inside_a_gap_too_big_to_refill_still_revokes(team: Team, sockets, monkeypatch, settings):
    # The events that cannot be refilled may hold the user's own removal: access is checked
    # before the resync, so nothing after the removal goes out.
    from tasks.events import log as common

    settings.WS_REPLAY_MAX_EVENTS = 1
    socket = await open_socket(sockets)
    await socket.login(team.users["viewer"])
    await socket.subscribe(team.project.pk)
    original = common.publish_on_commit
    monkeypatch.setattr(common, "publish_on_commit", lambda stream, event: None)  # the layer loses both
    await create_task(team, "lost")
    await rest(team.clients["admin"], "delete", team.url(f"members/{team.users['viewer'].pk}/"))
    monkeypatch.setattr(common, "publish_on_commit", original)
    await create_task(team, "secret after the removal", role="admin")
    revoked = await socket.receive()
    assert revoked == {"type": "unsubscribed", "project": str(team.project.pk), "reason": "access_revoked"}
    assert await socket.nothing()


async def test_a_session_cookie_counts_only_with_a_checked_origin(team: Team) -> None:
    # Without an Origin the client is no browser: it must send the auth frame.
    client = Client()
    await sync_to_async(client.force_login)(team.users["viewer"])
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    communicator = WebsocketCommunicator(application, "/ws/", headers=[cookie])
    try:
        connected, _ = await communicator.connect()
        assert connected
        assert await communicator.receive_nothing(timeout=0.3)  # no hello from the cookie alone
        await communicator.send_json_to({"type": "auth", "token": token_for(team.users["viewer"])})
        assert (await communicator.receive_json_from(timeout=2))["type"] == "hello"
    finally:
        await communicator.disconnect()


async def test_a_user_stream_that_cannot_be_followed_fails_the_sign_in(team: Team, sockets, monkeypatch) -> None:
    from realtime.hub import Hub

    real_follow = Hub.follow

    async def flaky(self: Hub, stream: str, follower: Any) -> None:
        if stream.startswith("user."):
            raise ConnectionError("Redis blinked")
        await real_follow(self, stream, follower)

    monkeypatch.setattr(Hub, "follow", flaky)
    socket = await open_socket(sockets)
    await socket.send({"type": "auth", "token": token_for(team.users["viewer"])})
    assert await socket.closed_with() == 1011  # not signed in: a deactivation could not reach it


async def test_a_user_deactivated_before_the_stream_is_joined_is_not_signed_in(team: Team, sockets, monkeypatch):
    import realtime.consumers

    viewer = team.users["viewer"]
    token = token_for(viewer)  # checked before the deactivation...
    real_check = realtime.consumers.user_for_token

    def checked_then_deactivated(raw: str) -> Any:
        user = real_check(raw)
        type(viewer).objects.filter(pk=viewer.pk).update(is_active=False)  # ...which lands meanwhile
        return user

    monkeypatch.setattr(realtime.consumers, "user_for_token", checked_then_deactivated)
    socket = await open_socket(sockets)
    await socket.send({"type": "auth", "token": token})
    assert await socket.closed_with() == 4401
