"""The socket protocol against real Daphne processes, with a `websockets` client; with
REDIS_URL set they share the Redis channel layer, and two instances prove fan-out across
processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.conftest import requires_redis
from tests.timetodo.test_server import Server, base_environ, daphne, manage, scratch_database

PASSWORD = "socket-test-Passphrase-42"


def call(server: Server, method: str, path: str, body: dict[str, Any] | None = None, token: str = "") -> Any:
    request = urllib.request.Request(  # noqa: S310
        f"{server.url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",  # as behind Render's load balancer
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        raw = response.read()
        return json.loads(raw) if raw else None


def register(server: Server, name: str) -> dict[str, Any]:
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    return call(server, "POST", "/api/v1/auth/register/", body)


async def open_socket(server: Server, token: str) -> ClientConnection:
    socket = await connect(f"ws://127.0.0.1:{server.port}/ws/", origin=Origin(f"http://127.0.0.1:{server.port}"))
    await socket.send(json.dumps({"type": "auth", "token": token}))
    hello = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert hello["type"] == "hello"
    return socket


async def next_frame(socket: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), 10))


@pytest.fixture
def environ(tmp_path: Path):
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url)
        environ["THROTTLE_REGISTER_RATE"] = "1000/hour"
        environ["WS_REPLAY_MAX_EVENTS"] = "3"
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


def test_sockets_on_a_real_daphne(environ: dict[str, str], tmp_path: Path) -> None:
    with daphne(environ, tmp_path) as server:
        asyncio.run(scenario(server, server))


@requires_redis
def test_a_socket_on_one_instance_receives_a_write_served_by_another(environ: dict[str, str], tmp_path: Path) -> None:
    assert os.environ["REDIS_URL"] == environ["REDIS_URL"]
    with daphne(environ, tmp_path) as instance_a, daphne(environ, tmp_path) as instance_b:
        asyncio.run(scenario(instance_a, instance_b))


async def scenario(listening: Server, writing: Server) -> None:
    """Sockets on `listening`, every REST write through `writing`."""
    owner, stranger = register(writing, "owner"), register(writing, "stranger")
    project = call(writing, "POST", "/api/v1/projects/", {"name": "Live", "key": "LIVE"}, owner["access"])
    socket = await open_socket(listening, owner["access"])
    spy = await open_socket(listening, stranger["access"])
    try:
        await socket.send(json.dumps({"type": "subscribe", "project": project["id"]}))
        assert await next_frame(socket) == {"type": "subscribed", "project": project["id"], "seq": 0}
        await spy.send(json.dumps({"type": "subscribe", "project": project["id"]}))
        assert (await next_frame(spy))["code"] == "not_found"

        task = call(writing, "POST", "/api/v1/tasks/", {"project": project["id"], "title": "live"}, owner["access"])
        event = await next_frame(socket)
        assert (event["type"], event["seq"], event["verb"], event["data"]["id"]) == (
            "event",
            1,
            "task.created",
            task["id"],
        )

        # Resume: a second socket catches up from seq 0 with exactly the missed event.
        late = await open_socket(listening, owner["access"])
        try:
            await late.send(json.dumps({"type": "subscribe", "project": project["id"], "since": 0}))
            replayed = await next_frame(late)
            assert (replayed["seq"], replayed["verb"]) == (1, "task.created")
            assert await next_frame(late) == {"type": "subscribed", "project": project["id"], "seq": 1}
        finally:
            await late.close()

        await socket.send(json.dumps({"type": "ping"}))
        assert await next_frame(socket) == {"type": "pong"}
        await socket.send("not json")
        assert (await next_frame(socket))["code"] == "bad_request"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(spy.recv(), 0.5)  # the stranger saw nothing

        # Beyond the replay window (3 events here): resync_required.
        for n in range(3):
            call(writing, "POST", "/api/v1/tasks/", {"project": project["id"], "title": f"more {n}"}, owner["access"])
        for _ in range(3):
            assert (await next_frame(socket))["verb"] == "task.created"
        stale = await open_socket(listening, owner["access"])
        try:
            await stale.send(json.dumps({"type": "subscribe", "project": project["id"], "since": 0}))
            assert await next_frame(stale) == {"type": "resync_required", "project": project["id"], "seq": 4}
        finally:
            await stale.close()

        # A member removed through REST is unsubscribed at once.
        call(
            writing,
            "POST",
            f"/api/v1/projects/{project['id']}/members/",
            {"user": stranger["user"]["id"]},
            owner["access"],
        )
        assert (await next_frame(socket))["verb"] == "member.added"
        member_socket = await open_socket(listening, stranger["access"])
        try:
            await member_socket.send(json.dumps({"type": "subscribe", "project": project["id"]}))
            assert (await next_frame(member_socket))["type"] == "subscribed"
            call(
                writing,
                "DELETE",
                f"/api/v1/projects/{project['id']}/members/{stranger['user']['id']}/",
                None,
                owner["access"],
            )
            assert await next_frame(member_socket) == {
                "type": "unsubscribed",
                "project": project["id"],
                "reason": "access_revoked",
            }
        finally:
            await member_socket.close()

        # Frames over 64 KiB close the socket with 1009.
        assert (await next_frame(socket))["verb"] == "member.removed"
        await socket.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
        with pytest.raises(ConnectionClosed) as too_big:
            await asyncio.wait_for(socket.recv(), 5)
        # Daphne answers 1009 at once, while the client may still be writing the frame: the
        # close frame can be lost in the reset, but the socket is closed either way.
        assert too_big.value.rcvd is None or too_big.value.rcvd.code == 1009
    finally:
        await socket.close()
        await spy.close()

    # A bad token closes with 4401; a foreign origin is refused at the handshake.
    bad = await connect(f"ws://127.0.0.1:{listening.port}/ws/", origin=Origin(f"http://127.0.0.1:{listening.port}"))
    await bad.send(json.dumps({"type": "auth", "token": "nope"}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(bad.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    with pytest.raises(InvalidStatus):
        await connect(f"ws://127.0.0.1:{listening.port}/ws/", origin=Origin("https://evil.example.net"))


def test_clients_without_a_browser_connect_and_foreign_pages_do_not(environ: dict[str, str], tmp_path: Path) -> None:
    """No Origin header (scripts, mobile and desktop apps): accepted, authenticated by the
    auth frame. An Origin that is not an allowed host: refused at the handshake."""
    with daphne(environ, tmp_path) as server:
        asyncio.run(origins(server))


async def origins(server: Server) -> None:
    owner = register(server, "script")
    project = call(server, "POST", "/api/v1/projects/", {"name": "Scripted", "key": "SCR"}, owner["access"])
    url = f"ws://127.0.0.1:{server.port}/ws/"
    async with connect(url) as script:  # (websockets sends no Origin unless told)
        assert script.request is not None
        assert "Origin" not in script.request.headers
        await script.send(json.dumps({"type": "auth", "token": owner["access"]}))
        assert (await next_frame(script))["type"] == "hello"
        await script.send(json.dumps({"type": "subscribe", "project": project["id"]}))
        assert await next_frame(script) == {"type": "subscribed", "project": project["id"], "seq": 0}
        call(server, "POST", "/api/v1/tasks/", {"project": project["id"], "title": "by script"}, owner["access"])
        assert (await next_frame(script))["data"]["title"] == "by script"
    for origin in ("http://evil.example", "null"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, origin=Origin(origin))
        assert refused.value.response.status_code == 403


def test_socket_abuse_leaves_the_server_and_other_clients_unharmed(environ: dict[str, str], tmp_path: Path) -> None:
    with daphne(environ, tmp_path) as server:
        asyncio.run(abuse(server))


async def abuse(server: Server) -> None:
    """A flood of connections, garbage and oversized frames, and subscriptions to 1,000
    projects, while a bystander follows its own project: it still gets its events."""
    owner, attacker = register(server, "bystander"), register(server, "attacker")
    project = call(server, "POST", "/api/v1/projects/", {"name": "Calm", "key": "CALM"}, owner["access"])
    bystander = await open_socket(server, owner["access"])
    await bystander.send(json.dumps({"type": "subscribe", "project": project["id"]}))
    assert (await next_frame(bystander))["type"] == "subscribed"

    url, origin = f"ws://127.0.0.1:{server.port}/ws/", Origin(f"http://127.0.0.1:{server.port}")
    flood = await asyncio.gather(*(connect(url, origin=origin) for _ in range(150)))
    try:
        # Garbage and unauthenticated frames on a third of them: 4401 or bad_request, no crash.
        for socket in flood[:50]:
            await socket.send(bytes(range(256)) * 4)
        # Oversized frames on another third: 1009.
        for socket in flood[50:100]:
            with contextlib.suppress(ConnectionClosed):
                await socket.send("x" * 70_000)
        # The attacker asks for 1,000 projects on one authenticated socket.
        greedy = await open_socket(server, attacker["access"])
        for n in range(1000):
            with contextlib.suppress(ConnectionClosed):
                await greedy.send(json.dumps({"type": "subscribe", "project": f"00000000-0000-0000-0000-{n:012d}"}))
        answers: dict[str, int] = {}
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            while True:
                frame = json.loads(await asyncio.wait_for(greedy.recv(), 2))
                answers[frame.get("code", frame["type"])] = answers.get(frame.get("code", frame["type"]), 0) + 1
        assert set(answers) <= {"not_found", "rate_limited", "too_many_subscriptions"}, answers
        assert answers.get("rate_limited", 0) > 0, answers  # the frame budget held

        # Meanwhile the bystander is served as usual.
        call(server, "POST", "/api/v1/tasks/", {"project": project["id"], "title": "still live"}, owner["access"])
        event = await next_frame(bystander)
        assert (event["verb"], event["data"]["title"]) == ("task.created", "still live")
        assert call(server, "GET", "/health")["status"] == "healthy"
    finally:
        await asyncio.gather(*(socket.close() for socket in flood), return_exceptions=True)
        await bystander.close()
