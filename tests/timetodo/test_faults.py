"""Fault injection against a real Daphne: Redis or PostgreSQL cut off, then back.

Each service is reached through a TCP proxy this test can cut (every connection dropped,
new ones refused) and restore, so the real services stay up for everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import requires_postgres, requires_redis
from tests.realtime.test_server import call, next_frame, open_socket, register
from tests.timetodo.test_server import base_environ, daphne, free_port, manage, scratch_database

pytestmark = [requires_postgres, requires_redis]


class Proxy:
    """127.0.0.1:<port> forwarded to a target until `cut()`; `restore()` listens again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self.accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)  # (wakes the accept(); close alone may not)
            self.listener.close()
            self.listener = None
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.connections.clear()

    def accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def through(url: str, proxy: Proxy) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{netloc}127.0.0.1:{proxy.port}", parts.path, parts.query, parts.fragment))


def proxied(url: str) -> Proxy:
    parts = urlsplit(url)
    return Proxy(parts.hostname or "127.0.0.1", parts.port or 0)


def status_of(url: str, method: str = "GET", body: dict[str, Any] | None = None, token: str = "") -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        code, raw, content_type = error.code, error.read(), error.headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), raw[:300]  # an error page would be a leak
    return code, json.loads(raw)


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url)
        environ["THROTTLE_REGISTER_RATE"] = "1000/hour"
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


def test_a_redis_outage_keeps_the_api_working_and_sockets_resume(environ: dict[str, str], tmp_path: Path) -> None:
    redis = proxied(environ["REDIS_URL"])
    environ["REDIS_URL"] = through(environ["REDIS_URL"], redis)
    with daphne(environ, tmp_path) as server:
        owner = register(server, "owner")
        token = owner["access"]
        project = call(server, "POST", "/api/v1/projects/", {"name": "Outage", "key": "OUT"}, token)
        socket_before = asyncio.run(seq_after_subscribing(server, token, project["id"]))

        redis.cut()
        try:
            status, task = status_of(
                f"{server.url}/api/v1/tasks/", "POST", {"project": project["id"], "title": "written blind"}, token
            )
            assert status == 201, task  # the write lands, and its event is in the log
            status, listing = status_of(f"{server.url}/api/v1/tasks/?project={project['id']}", token=token)
            assert (status, listing["count"]) == (200, 1)
            status, health = status_of(f"{server.url}/health/detailed")
            assert (status, health["redis"]) == (503, "unhealthy")
            activity = call(server, "GET", f"/api/v1/projects/{project['id']}/activity/?since=0", None, token)
            assert [event["verb"] for event in activity["results"]] == ["task.created"]
        finally:
            redis.restore()

        status, health = status_of(f"{server.url}/health/detailed")
        assert (status, health["redis"], health["channel_layer"]) == (200, "healthy", "healthy"), health
        # A client that was following resumes from its last seq and gets what it missed.
        replayed = asyncio.run(resume(server, token, project["id"], since=socket_before))
        assert [(event["seq"], event["data"]["title"]) for event in replayed] == [(1, "written blind")]


async def seq_after_subscribing(server: Any, token: str, project_id: str) -> int:
    socket = await open_socket(server, token)
    try:
        await socket.send(json.dumps({"type": "subscribe", "project": project_id}))
        subscribed = await next_frame(socket)
        assert subscribed["type"] == "subscribed"
        return int(subscribed["seq"])
    finally:
        await socket.close()


async def resume(server: Any, token: str, project_id: str, since: int) -> list[dict[str, Any]]:
    socket = await open_socket(server, token)
    try:
        await socket.send(json.dumps({"type": "subscribe", "project": project_id, "since": since}))
        events = []
        while (frame := await next_frame(socket))["type"] == "event":
            events.append(frame)
        assert frame["type"] == "subscribed", frame
        return events
    finally:
        await socket.close()


def test_a_database_outage_is_a_clean_503_and_a_restart_loses_nothing(environ: dict[str, str], tmp_path: Path) -> None:
    database = proxied(environ["DATABASE_URL"])
    direct_url = environ["DATABASE_URL"]
    environ["DATABASE_URL"] = through(direct_url, database)
    with daphne(environ, tmp_path) as server:
        owner = register(server, "owner")
        token = owner["access"]
        project = call(server, "POST", "/api/v1/projects/", {"name": "Durable", "key": "DUR"}, token)
        task = call(server, "POST", "/api/v1/tasks/", {"project": project["id"], "title": "committed"}, token)

        database.cut()
        try:
            status, body = status_of(f"{server.url}/api/v1/tasks/{task['id']}/", token=token)
            assert status == 503, body
            assert body == {"detail": "The database is unavailable. Try again shortly."}
            status, body = status_of(
                f"{server.url}/api/v1/tasks/", "POST", {"project": project["id"], "title": "lost?"}, token
            )
            assert status == 503, body
            status, health = status_of(f"{server.url}/health/detailed")
            assert (status, health["database"]) == (503, "unhealthy")
        finally:
            database.restore()

    environ["DATABASE_URL"] = direct_url
    with daphne(environ, tmp_path) as restarted:  # a new process: only what was committed
        status, listing = status_of(f"{restarted.url}/api/v1/tasks/?project={project['id']}", token=token)
        assert status == 200
        assert [row["title"] for row in listing["results"]] == ["committed"]
