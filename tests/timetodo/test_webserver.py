"""`timetodo.webserver` in a real process: it serves only when ready, and drains on SIGTERM.

A request still arriving (its headers half sent) when SIGTERM comes holds the drain open,
which makes the draining state observable without racing the clock.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.conftest import requires_postgres
from tests.timetodo.test_deploy import api, copy_of_the_code
from tests.timetodo.test_serve import workers_of
from tests.timetodo.test_server import ROOT, Release, base_environ, manage, scratch_database, start_release
from timetodo.lifecycle import EXIT_WATCHDOG_SECONDS, STOP_NOW_SECONDS


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    environ = base_environ(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    environ.pop("REDIS_URL", None)
    return environ


@pytest.fixture
def release(environ: dict[str, str], tmp_path: Path) -> Iterator[Release]:
    manage(environ, "migrate", "--noinput", "-v0")
    running = start_release("A", ROOT, environ | {"DRAIN_SECONDS": "30"}, tmp_path)
    try:
        running.wait_healthy()
        yield running
    finally:
        running.process.kill()
        running.process.wait()


def half_sent(port: int, path: str) -> socket.socket:
    """A request whose last header line has not arrived yet."""
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
    time.sleep(0.3)  # the server has read what there is
    return client


def finish(client: socket.socket) -> tuple[int, dict[str, str], dict]:
    client.sendall(b"\r\n")
    response = http.client.HTTPResponse(client)
    response.begin()
    body = json.loads(response.read())
    return response.status, {name.lower(): value for name, value in response.getheaders()}, body


class Replies:
    """Stands in for a socket to `http.client.HTTPResponse`: every response read from it
    reads on from one buffered stream of the socket, where the last one stopped."""

    class _Stream(io.BufferedReader):
        def close(self) -> None:  # (each response closes its stream once read: keep it)
            pass

    def __init__(self, client: socket.socket) -> None:
        self.stream = self._Stream(socket.SocketIO(client, "rb"))

    def makefile(self, *args: object, **kwargs: object) -> io.BufferedReader:
        return self.stream


def still_running(process: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


def test_a_draining_server_finishes_the_request_under_way_and_says_it_is_draining(release: Release) -> None:
    client = half_sent(release.port, "/health/detailed")
    release.process.send_signal(signal.SIGTERM)
    assert still_running(release.process, 1.5), release.log.read_text()  # waiting for that request
    with pytest.raises(ConnectionRefusedError):  # new connections go elsewhere: this release no longer listens
        socket.create_connection(("127.0.0.1", release.port), timeout=2).recv(1)
    status, headers, body = finish(client)
    assert status == 503
    assert body["status"] == "draining"
    assert headers["connection"] == "close"  # the connection's last response
    assert release.process.wait(timeout=5) == 0
    log = release.log.read_text()
    assert "SIGTERM: draining (up to 30 s): 1 requests in flight" in log
    assert "drained in" in log


def test_a_request_that_never_finishes_is_cut_at_the_grace_and_the_server_still_exits_0(
    environ: dict[str, str], tmp_path: Path
) -> None:
    manage(environ, "migrate", "--noinput", "-v0")
    release = start_release("A", ROOT, environ | {"DRAIN_SECONDS": "2"}, tmp_path)
    try:
        release.wait_healthy()
        client = half_sent(release.port, "/health")
        began = time.monotonic()
        release.process.send_signal(signal.SIGTERM)
        assert release.process.wait(timeout=10) == 0
        assert 1.5 < time.monotonic() - began < 8
        assert "still busy after 2 s" in release.log.read_text()
        client.close()
    finally:
        release.process.kill()
        release.process.wait()


def test_a_second_sigterm_stops_a_draining_server_at_once(release: Release) -> None:
    client = half_sent(release.port, "/health")
    release.process.send_signal(signal.SIGTERM)
    assert still_running(release.process, 2.5)
    began = time.monotonic()
    release.process.send_signal(signal.SIGTERM)
    assert release.process.wait(timeout=5) == 0
    assert time.monotonic() - began < 3
    assert "SIGTERM while draining: stopping now" in release.log.read_text()
    client.close()


def test_a_release_answers_health_only_once_its_migrations_are_applied(environ: dict[str, str], tmp_path: Path) -> None:
    release = start_release("A", ROOT, environ, tmp_path)  # an empty database: nothing migrated yet
    try:
        deadline = time.monotonic() + 30
        while "not serving yet: migrations:" not in release.log.read_text():
            assert release.process.poll() is None, release.log.read_text()
            assert time.monotonic() < deadline, release.log.read_text()
            time.sleep(0.2)
        assert release.health() == 0  # no answer at all: a load balancer sends it nothing
        manage(environ, "migrate", "--noinput", "-v0")
        release.wait_healthy(seconds=30)
        assert "ready: the database answers and every migration is applied" in release.log.read_text()
    finally:
        release.process.send_signal(signal.SIGTERM)
        assert release.process.wait(timeout=15) == 0


def test_sigterm_before_the_server_is_ready_exits_0(environ: dict[str, str], tmp_path: Path) -> None:
    release = start_release("A", ROOT, environ, tmp_path)  # waits for migrations forever
    deadline = time.monotonic() + 30
    while "not serving yet" not in release.log.read_text():
        assert time.monotonic() < deadline, release.log.read_text()
        time.sleep(0.2)
    release.process.send_signal(signal.SIGTERM)
    assert release.process.wait(timeout=15) == 0, release.log.read_text()


def test_ctrl_c_drains_although_it_reaches_every_process_of_the_group(release: Release) -> None:
    """The terminal sends SIGINT to the launcher and its worker, and the launcher passes it on:
    one request to stop, not a second one that would cut the drain short."""
    client = half_sent(release.port, "/health")
    os.killpg(release.process.pid, signal.SIGINT)
    assert still_running(release.process, 1.5), release.log.read_text()
    status, headers, body = finish(client)
    assert (status, body["status"], headers["connection"]) == (200, "draining", "close")
    assert release.process.wait(timeout=5) == 0
    assert "stopping now" not in release.log.read_text()


def test_a_rolling_restart_onto_broken_code_stops_and_the_old_process_keeps_serving(
    environ: dict[str, str], tmp_path: Path
) -> None:
    manage(environ, "migrate", "--noinput", "-v0")
    root = copy_of_the_code(tmp_path / "code")
    release = start_release("A", root, environ, tmp_path)
    try:
        release.wait_healthy()
        (old,) = workers_of(release.process.pid)
        with (root / "timetodo" / "asgi.py").open("a") as asgi:
            asgi.write('\nraise RuntimeError("a broken release")\n')
        release.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while "before it was ready: the rolling restart stops" not in release.log.read_text():
            assert time.monotonic() < deadline, release.log.read_text()
            time.sleep(0.2)
        assert release.health() == 200
        assert workers_of(release.process.pid) == {old}
        release.process.send_signal(signal.SIGTERM)
        assert release.process.wait(timeout=15) == 0
    finally:
        release.process.kill()
        release.process.wait()


@contextmanager
def stuck_view(
    environ: dict[str, str], release: Release, then: bytes = b""
) -> Iterator[tuple[psycopg.Connection, socket.socket]]:
    """A task create whose view's thread waits on its project's row lock, held here (and
    `then`, pipelined behind it on the same connection): the lock's connection and the client's."""
    status, user = api(
        release.port,
        "POST",
        "/api/v1/auth/register/",
        {"email": "stuck@example.com", "username": "stuck", "password": "stuck-view-password-2026"},
    )
    assert status == 201, user
    token = user["access"]
    status, project = api(release.port, "POST", "/api/v1/projects/", {"name": "Stuck", "key": "STK"}, token)
    assert status == 201, project
    with psycopg.connect(environ["DATABASE_URL"]) as database:
        database.execute("SELECT 1 FROM tasks_project WHERE id = %s FOR UPDATE", [project["id"]])
        body = json.dumps({"project": project["id"], "title": "never written"}).encode()
        client = socket.create_connection(("127.0.0.1", release.port), timeout=30)
        client.sendall(
            b"POST /api/v1/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
            + then
        )
        time.sleep(1)  # the view is now waiting for the lock
        yield database, client
        database.rollback()
        client.close()


def assert_nothing_written(environ: dict[str, str]) -> None:
    with psycopg.connect(environ["DATABASE_URL"]) as database:
        assert database.execute("SELECT count(*) FROM tasks_task").fetchone() == (0,)  # cut, rolled back


@pytest.fixture
def on_postgres(tmp_path: Path) -> Iterator[dict[str, str]]:
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url) | {"THROTTLE_REGISTER_RATE": "1000/hour"}
        environ.pop("REDIS_URL", None)
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


@requires_postgres
def test_a_view_stuck_past_the_grace_is_cut_and_the_process_exits_by_itself(
    on_postgres: dict[str, str], tmp_path: Path
) -> None:
    release = start_release("A", ROOT, on_postgres | {"DRAIN_SECONDS": "2"}, tmp_path)
    try:
        release.wait_healthy()
        with stuck_view(on_postgres, release):
            began = time.monotonic()
            release.process.send_signal(signal.SIGTERM)
            assert release.process.wait(timeout=15) == 0
            took = time.monotonic() - began
            log = release.log.read_text()
            # DRAIN_SECONDS, then at most EXIT_WATCHDOG_SECONDS: before the launcher's kill.
            assert 1.5 < took < 2 + EXIT_WATCHDOG_SECONDS + 1, log
            assert "still busy after 2 s" in log
            assert "killed" not in log
        assert_nothing_written(on_postgres)
    finally:
        release.process.kill()
        release.process.wait()


@requires_postgres
def test_a_second_sigterm_stops_a_stuck_view_at_once(on_postgres: dict[str, str], tmp_path: Path) -> None:
    release = start_release("A", ROOT, on_postgres | {"DRAIN_SECONDS": "60"}, tmp_path)
    try:
        release.wait_healthy()
        with stuck_view(on_postgres, release):
            release.process.send_signal(signal.SIGTERM)
            assert still_running(release.process, 2.5)
            began = time.monotonic()
            release.process.send_signal(signal.SIGTERM)
            assert release.process.wait(timeout=10) == 0
            assert time.monotonic() - began < STOP_NOW_SECONDS + 1.5, release.log.read_text()
        assert_nothing_written(on_postgres)
    finally:
        release.process.kill()
        release.process.wait()


@requires_postgres
def test_a_request_pipelined_behind_one_under_way_is_answered_too(on_postgres: dict[str, str], tmp_path: Path) -> None:
    release = start_release("A", ROOT, on_postgres | {"DRAIN_SECONDS": "30"}, tmp_path)
    try:
        release.wait_healthy()
        pipelined = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        with stuck_view(on_postgres, release, then=pipelined) as (lock, client):
            release.process.send_signal(signal.SIGTERM)
            assert still_running(release.process, 1.0)
            lock.commit()  # the create goes ahead
            # Both answers, read off one stream (one HTTPResponse per answer on the socket
            # would each buffer ahead, and the first could swallow the second's bytes).
            replies = Replies(client)
            created = http.client.HTTPResponse(replies)  # type: ignore[arg-type]
            created.begin()
            created.read()
            assert created.status == 201
            health = http.client.HTTPResponse(replies)  # type: ignore[arg-type]
            health.begin()
            assert (health.status, json.loads(health.read())["status"]) == (200, "draining")
            assert health.getheader("connection") == "close"
        assert release.process.wait(timeout=10) == 0
    finally:
        release.process.kill()
        release.process.wait()


def test_the_garbage_collector_is_tuned_once_the_app_is_loaded() -> None:
    # (In a process of its own: freezing this one's heap would change the test run.)
    probe = (
        "import gc, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'timetodo.settings'); "
        "import django; django.setup(); import timetodo.asgi; "
        "from timetodo.webserver import GC_YOUNG_THRESHOLD, tune_garbage_collector; "
        "before = gc.get_freeze_count(); tune_garbage_collector(); "
        "print(before, gc.get_freeze_count() > 10000, gc.get_threshold()[0] == GC_YOUNG_THRESHOLD)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True", "True"]  # the loaded app frozen, young generation larger
