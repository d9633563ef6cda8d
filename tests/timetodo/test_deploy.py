"""A release replaces another under live load, and nothing is lost.

Real processes, as on Render: each release is `python -m timetodo.serve` (the container's
command) on a port of its own, behind a TCP proxy that the test switches the way Render's
load balancer does (new connections to the new release, open ones left where they are).
20 HTTP clients read and write the whole time and 50 sockets follow one project. The
deploy: release B's migration (an expand step) runs while A serves, B starts, its
`/health` answers, the proxy switches, A gets SIGTERM. The same load rides through a
rolling restart (`kill -HUP` on one launcher). Afterwards: no request failed, every write
that answered 2xx is in the database, every socket saw every seq exactly once after
reconnecting (1012, at once) and the old release exited 0 within its grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import requires_postgres, requires_redis
from tests.timetodo.test_serve import workers_of
from tests.timetodo.test_server import ROOT, Release, base_environ, manage, scratch_database, start_release

CLIENTS = 20
SOCKETS = 50
DRAIN_SECONDS = 10
RECONNECT_AT_ONCE = {1012, 1001}
PASSWORD = "deploy-test-password-2026"


# -- the load balancer -----------------------------------------------------------------------


class Switch:
    """127.0.0.1:<port> forwarded to `target`; `point_at` sends new connections elsewhere."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.listener.getsockname()[1]
        self.closing = False
        threading.Thread(target=self.accept, daemon=True).start()

    def point_at(self, target: int) -> None:
        self.target = target

    def close(self) -> None:
        self.closing = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()

    def accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()  # (a refused connection: the clients count it as a failure)
                continue
            upstream.settimeout(None)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)  # pass the close on, as a TCP proxy does
        except OSError:
            for end in (source, sink):  # a reset: reset the other side too
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


# -- releases --------------------------------------------------------------------------------


EXPAND_MIGRATION = '''"""Release B's expand step: a nullable column release A never names, so A keeps working."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tasks", "{previous}")]

    operations = [
        migrations.AddField("task", "release_b_note", models.TextField(null=True, blank=True)),
        migrations.AddIndex("task", models.Index(fields=["project", "updated_at"], name="release_b_recent")),
    ]
'''


def copy_of_the_code(root: Path) -> Path:
    for package in sorted(path.parent.name for path in ROOT.glob("*/apps.py")):  # every app, timetodo too
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "manage.py", root / "manage.py")
    return root


def next_release(tmp_path: Path) -> Path:
    """This code plus one more migration: the release after the one that is serving."""
    root = copy_of_the_code(tmp_path / "release-b")
    migrations = sorted(path.stem for path in (root / "tasks" / "migrations").glob("0*.py"))
    number = int(migrations[-1].split("_", 1)[0]) + 1
    (root / "tasks" / "migrations" / f"{number:04d}_release_b_expand.py").write_text(
        EXPAND_MIGRATION.format(previous=migrations[-1])
    )
    return root


# -- the load ----------------------------------------------------------------------------------


def api(port: int, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers(token))
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def headers(token: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Forwarded-Proto": "https",  # as behind Render's load balancer
        **({"Authorization": f"Bearer {token}"} if token else {}),
    }


@dataclass
class Load:
    """CLIENTS keep-alive HTTP clients, each creating a task and then writing and reading in turn."""

    port: int
    token: str
    project: str
    stopping: threading.Event = field(default_factory=threading.Event)
    failures: list[str] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    titles: dict[str, str] = field(default_factory=dict)  # task -> the title its last 2xx PATCH wrote
    answered: int = 0
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for index in range(CLIENTS):
            thread = threading.Thread(target=self.client, args=(index,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def client(self, index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        mine: str | None = None
        turn = 0
        while not self.stopping.is_set():
            turn += 1
            if mine is None or turn % 8 == 0:
                step, method, path = "create", "POST", "/api/v1/tasks/"
                body: Any = {"project": self.project, "title": f"client {index} task {turn}"}
            elif turn % 4 == 1:
                title = f"client {index} edit {turn}"
                step, method, path, body = "patch", "PATCH", f"/api/v1/tasks/{mine}/", {"title": title}
            elif turn % 2:
                step, method, path, body = "list", "GET", f"/api/v1/tasks/?project={self.project}&page_size=20", None
            else:
                step, method, path, body = "board", "GET", f"/api/v1/projects/{self.project}/board/", None
            try:
                connection.request(method, path, json.dumps(body) if body is not None else None, headers(self.token))
                response = connection.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as problem:
                with self.lock:
                    self.failures.append(f"client {index} {step}: {type(problem).__name__}: {problem}")
                connection.close()
                continue
            with self.lock:
                self.answered += 1
                if response.status >= 300:
                    self.failures.append(f"client {index} {step}: {response.status} {raw[:200]!r}")
                elif step == "create":
                    task = json.loads(raw)["id"]
                    self.created.add(task)
                    mine = mine or task
                elif step == "patch":
                    self.titles[mine] = title  # type: ignore[index]
            time.sleep(0.02)
        connection.close()


@dataclass
class Followers:
    """SOCKETS sockets following one project; each reconnects and resumes with `since`."""

    port: int
    token: str
    project: str
    stopping: threading.Event = field(default_factory=threading.Event)
    seqs: list[list[int]] = field(default_factory=lambda: [[] for _ in range(SOCKETS)])
    first_seq: list[int | None] = field(default_factory=lambda: [None] * SOCKETS)
    closes: list[list[int | None]] = field(default_factory=lambda: [[] for _ in range(SOCKETS)])
    problems: list[str] = field(default_factory=list)
    subscribed: set[int] = field(default_factory=set)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while len(self.subscribed) < SOCKETS:
            assert time.monotonic() < deadline, f"{len(self.subscribed)} of {SOCKETS} sockets subscribed"
            time.sleep(0.1)

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=30)

    def last(self, index: int) -> int | None:
        return self.seqs[index][-1] if self.seqs[index] else self.first_seq[index]

    async def run(self) -> None:
        await asyncio.gather(*(self.follow(index) for index in range(SOCKETS)))

    async def follow(self, index: int) -> None:
        while not self.stopping.is_set():
            try:
                # No Origin: a script, as a mobile app would be; it authenticates with the auth frame.
                async with connect(f"ws://127.0.0.1:{self.port}/ws/", open_timeout=20) as socket_:
                    await socket_.send(json.dumps({"type": "auth", "token": self.token}))
                    since = self.last(index)
                    subscribe = {"type": "subscribe", "project": self.project}
                    await socket_.send(json.dumps(subscribe | ({"since": since} if since is not None else {})))
                    while not self.stopping.is_set():
                        try:
                            raw = await asyncio.wait_for(socket_.recv(), 0.5)
                        except TimeoutError:
                            continue
                        self.take(index, json.loads(raw))
                    return
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                self.closes[index].append(code)
                if code in RECONNECT_AT_ONCE:
                    await asyncio.sleep(random.uniform(0, 0.05))
                    continue
                self.problems.append(f"socket {index} closed with {code}")
            except (OSError, TimeoutError) as problem:
                self.problems.append(f"socket {index}: {type(problem).__name__}: {problem}")
            await asyncio.sleep(0.5)

    def take(self, index: int, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "subscribed":
            if self.first_seq[index] is None and not self.seqs[index]:
                self.first_seq[index] = frame["seq"]
            self.subscribed.add(index)
        elif kind == "event":
            last = self.last(index)
            if last is not None and frame["seq"] != last + 1:
                self.problems.append(f"socket {index}: seq {frame['seq']} after {last}")
            self.seqs[index].append(frame["seq"])
        elif kind not in {"hello", "pong"}:
            self.problems.append(f"socket {index}: {frame}")


# -- the scenario ------------------------------------------------------------------------------


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url) | {
            "THROTTLE_REGISTER_RATE": "1000/hour",
            "THROTTLE_USER_RATE": "1000000/minute",
            "DRAIN_SECONDS": str(DRAIN_SECONDS),
            "DATABASE_POOL_TIMEOUT": "10",
        }
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


def sign_up(port: int) -> tuple[str, str]:
    body = {"email": "deployer@example.com", "username": "deployer", "password": PASSWORD}
    status, user = api(port, "POST", "/api/v1/auth/register/", body)
    assert status == 201, user
    token = user["access"]
    status, project = api(port, "POST", "/api/v1/projects/", {"name": "Deploy", "key": "DEP"}, token)
    assert status == 201, project
    return token, project["id"]


def latest_seq(port: int, token: str, project: str) -> int:
    status, board = api(port, "GET", f"/api/v1/projects/{project}/board/", None, token)
    assert status == 200, board
    return int(board["last_seq"])


def check_nothing_lost(load: Load, followers: Followers, switch: Switch, environ: dict[str, str]) -> None:
    assert load.answered > 10 * CLIENTS, f"too little load to prove anything: {load.answered} answers"
    assert not load.failures, f"{len(load.failures)} of {load.answered} requests failed: {load.failures[:10]}"
    final = latest_seq(switch.port, load.token, load.project)
    deadline = time.monotonic() + 30
    while any(followers.last(index) != final for index in range(SOCKETS)) and time.monotonic() < deadline:
        time.sleep(0.2)
    followers.stop()
    assert not followers.problems, followers.problems[:10]
    for index in range(SOCKETS):
        first = followers.first_seq[index]
        assert first is not None
        assert followers.seqs[index] == list(range(first + 1, final + 1)), f"socket {index} missed or repeated events"
        assert followers.closes[index], f"socket {index} was never closed by the old server"
        assert set(followers.closes[index]) <= RECONNECT_AT_ONCE, followers.closes[index]
    with psycopg.connect(environ["DATABASE_URL"]) as database:
        stored: dict[str, str] = dict(database.execute("SELECT id::text, title FROM tasks_task").fetchall())
    assert load.created <= stored.keys(), f"{len(load.created - stored.keys())} created tasks are missing"
    assert len(stored) == len(load.created)  # and none created twice
    for task, title in load.titles.items():
        assert stored[task] == title
    reconnects = sum(len(closes) for closes in followers.closes)
    print(
        f"\n{load.answered} requests answered, {len(load.created)} tasks created, {len(load.titles)} edited; "
        f"{SOCKETS} sockets followed seq {min(f or 0 for f in followers.first_seq)}..{final} "
        f"gapless through {reconnects} reconnects"
    )


def under_load(switch: Switch) -> tuple[Load, Followers]:
    """A user and a project, SOCKETS sockets following it, CLIENTS clients at work for 2 s."""
    token, project = sign_up(switch.port)
    followers = Followers(switch.port, token, project)
    followers.start()
    load = Load(switch.port, token, project)
    load.start()
    time.sleep(2)
    return load, followers


def exit_within_grace(release: Release) -> float:
    drained_before = release.log.read_text().count("drained in")
    began = time.monotonic()
    release.process.send_signal(signal.SIGTERM)
    try:
        code = release.process.wait(timeout=DRAIN_SECONDS + 5)
    except subprocess.TimeoutExpired:
        release.process.kill()
        log = release.log.read_text()
        pytest.fail(f"release {release.name} still running {DRAIN_SECONDS + 5} s after SIGTERM:\n{log}")
    took = time.monotonic() - began
    log = release.log.read_text()
    assert code == 0, log
    assert took < DRAIN_SECONDS, log
    assert log.count("drained in") > drained_before, log
    assert "still busy" not in log, log
    return took


@requires_postgres
@requires_redis
def test_a_deploy_under_load_loses_nothing(environ: dict[str, str], tmp_path: Path) -> None:
    release_a = start_release("A", ROOT, environ, tmp_path)
    release_b: Release | None = None
    switch = Switch(release_a.port)
    try:
        release_a.wait_healthy()
        load, followers = under_load(switch)

        # Render's pre-deploy command: B's migration runs while A serves the load.
        root_b = next_release(tmp_path)
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=root_b,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        assert "release_b_expand... OK" in migrate.stdout
        time.sleep(1)
        assert not load.failures, f"release A broke on the expanded schema: {load.failures[:5]}"

        release_b = start_release("B", root_b, environ, tmp_path)
        release_b.wait_healthy()
        switch.point_at(release_b.port)
        took = exit_within_grace(release_a)
        time.sleep(2)  # the load carries on against B
        load.stop()
        check_nothing_lost(load, followers, switch, environ)
        assert took < DRAIN_SECONDS
    finally:
        switch.close()
        release_a.stop()
        if release_b is not None:
            release_b.stop()


@requires_postgres
@requires_redis
def test_a_rolling_restart_under_load_loses_nothing(environ: dict[str, str], tmp_path: Path) -> None:
    release = start_release("A", ROOT, environ, tmp_path, processes=2)
    switch = Switch(release.port)
    try:
        release.wait_healthy()
        load, followers = under_load(switch)
        before = workers_of(release.process.pid)
        assert len(before) == 2
        release.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while "rolling restart done" not in release.log.read_text():
            assert release.process.poll() is None, release.log.read_text()
            assert time.monotonic() < deadline, release.log.read_text()
            time.sleep(0.2)
        after = workers_of(release.process.pid)
        assert len(after) == 2
        assert not after & before, "every process was replaced"
        time.sleep(2)
        load.stop()
        check_nothing_lost(load, followers, switch, environ)
        assert release.log.read_text().count("drained in") == 2
        exit_within_grace(release)
    finally:
        switch.close()
        release.stop()
