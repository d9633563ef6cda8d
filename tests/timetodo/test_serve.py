"""`python -m timetodo.serve`: one Daphne, or WEB_CONCURRENCY of them on one listening socket."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from websockets.exceptions import ConnectionClosed

from tests.conftest import requires_redis
from tests.realtime.test_server import call, next_frame, open_socket, register
from tests.timetodo.test_server import ROOT, Server, base_environ, daphne, free_port, manage, scratch_database
from timetodo.serve import read_settings

WORKERS = 2
SOCKETS = 12


def test_settings_default_to_one_process_on_every_interface() -> None:
    assert read_settings({}) == ("0.0.0.0", 8000, 1, 20)  # noqa: S104
    environ = {"HOST": "127.0.0.1", "PORT": "9000", "WEB_CONCURRENCY": "4", "REDIS_URL": "redis://r:6379/0"}
    assert read_settings(environ | {"WS_HEARTBEAT_SECONDS": "30"}) == ("127.0.0.1", 9000, 4, 30)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be at least 1"),
        ({"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY must be a whole number"),
        ({"WEB_CONCURRENCY": "65", "REDIS_URL": "redis://r"}, "WEB_CONCURRENCY must be at most 64"),
        ({"WEB_CONCURRENCY": "2"}, "WEB_CONCURRENCY above 1 needs REDIS_URL"),
        ({"PORT": "70000"}, "PORT must be at most 65535"),
        ({"PORT": "0"}, "PORT must be at least 1"),
        ({"HOST": "localhost"}, "HOST must be an IPv4 address"),
        ({"WS_HEARTBEAT_SECONDS": "1"}, "WS_HEARTBEAT_SECONDS must be at least 5"),
    ],
)
def test_bad_settings_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        read_settings(environ)


def serve(environ: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timetodo.serve"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_bad_setting_stops_the_launcher_before_it_listens(tmp_path: Path) -> None:
    environ = base_environ(f"sqlite:///{tmp_path / 'db.sqlite3'}") | {"WEB_CONCURRENCY": "3", "PORT": str(free_port())}
    environ.pop("REDIS_URL", None)
    result = serve(environ)
    assert result.returncode == 2
    assert "timetodo.serve: WEB_CONCURRENCY above 1 needs REDIS_URL" in result.stderr


def test_workers_that_cannot_start_stop_the_server_with_their_exit_code(tmp_path: Path) -> None:
    """Not a restart loop: the platform must see that the app cannot start, and why."""
    environ = base_environ(f"sqlite:///{tmp_path / 'db.sqlite3'}") | {
        "SECRET_KEY": "weak",
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # never reached: the settings fail first
        "WEB_CONCURRENCY": "2",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "TMPDIR": str(tmp_path),
    }
    started = time.monotonic()
    result = serve(environ)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 30
    assert "SECRET_KEY is missing or weak" in result.stderr
    assert "while starting: stopping the others" in result.stderr
    assert not list(tmp_path.glob("timetodo-metrics-*"))  # the metrics directory is removed


def workers_of(launcher: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == launcher:
            children.add(int(stat.parent.name))
    return children


def connections_per_worker(port: int, workers: set[int]) -> dict[int, int]:
    """Established TCP connections to `port`, by the worker process holding them (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(f"socket:[{fields[9]}]")
    counts = {}
    for pid in workers:
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                held += os.readlink(fd) in inodes
            except OSError:
                continue
        counts[pid] = held
    return counts


def open_sockets_metric(server: Server) -> float:
    request = urllib.request.Request(f"{server.url}/metrics", headers={"X-Forwarded-Proto": "https"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        text = response.read().decode()
    match = re.search(r"^timetodo_websocket_connections_open (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def eventually(check, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {seconds:g} s: {check.__doc__}")
        time.sleep(0.2)


@pytest.fixture
def environ(tmp_path: Path):
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url) | {"THROTTLE_REGISTER_RATE": "1000/hour", "TMPDIR": str(tmp_path)}
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
@requires_redis
def test_workers_share_the_port_events_and_metrics_and_a_dead_one_is_replaced(
    environ: dict[str, str], tmp_path: Path
) -> None:
    with daphne(environ, tmp_path, processes=WORKERS) as server:
        launcher = server.process.pid
        eventually(lambda: len(workers_of(launcher)) == WORKERS)
        asyncio.run(across_workers(server, launcher))

        # SIGTERM (what Render sends) with sockets open: every worker stops, the launcher exits 0.
        workers = workers_of(launcher)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not list(tmp_path.glob("timetodo-metrics-*"))
    assert "timetodo.serve: SIGTERM: 2 workers drain" in server.log.read_text()


async def across_workers(server: Server, launcher: int) -> None:
    owner = register(server, "owner")
    project = call(server, "POST", "/api/v1/projects/", {"name": "Shared", "key": "SHR"}, owner["access"])
    workers = workers_of(launcher)
    sockets: list = []
    # The kernel hands each connection to whichever worker accepts first: open sockets
    # until both hold some (it takes a few; 60 on one alone would mean they do not share).
    while len(sockets) < SOCKETS or min(connections_per_worker(server.port, workers).values()) == 0:
        assert len(sockets) < 60, connections_per_worker(server.port, workers)
        socket = await open_socket(server, owner["access"])
        await socket.send(json.dumps({"type": "subscribe", "project": project["id"]}))
        assert (await next_frame(socket))["type"] == "subscribed"
        sockets.append(socket)
    opened = len(sockets)
    counts = connections_per_worker(server.port, workers)
    assert sum(counts.values()) == opened, counts
    # Whichever process answers /metrics, it reports the sockets of all of them.
    for _ in range(6):
        assert open_sockets_metric(server) == opened

    victim = max(counts, key=lambda pid: counts[pid])
    os.kill(victim, signal.SIGKILL)
    # A write served by whichever process is left reaches every socket on the others.
    task = call(server, "POST", "/api/v1/tasks/", {"project": project["id"], "title": "after"}, owner["access"])
    survivors, dropped = [], []
    for socket in sockets:
        try:
            event = await next_frame(socket)
        except ConnectionClosed:
            dropped.append(socket)
            continue
        assert (event["seq"], event["data"]["id"]) == (1, task["id"])
        survivors.append(socket)
    assert len(dropped) == counts[victim]

    def replaced() -> bool:
        """a new worker runs in place of the killed one"""
        now = workers_of(launcher)
        return len(now) == WORKERS and victim not in now

    await asyncio.to_thread(eventually, replaced)

    def dead_ones_forgotten() -> bool:
        """/metrics no longer counts the killed worker's sockets"""
        return open_sockets_metric(server) == len(survivors)

    await asyncio.to_thread(eventually, dead_ones_forgotten)

    # The dropped clients reconnect and resume with `since`: the missed event, then subscribed.
    for _ in dropped:
        socket = await open_socket(server, owner["access"])
        await socket.send(json.dumps({"type": "subscribe", "project": project["id"], "since": 0}))
        assert (await next_frame(socket))["data"]["id"] == task["id"]
        assert (await next_frame(socket))["type"] == "subscribed"
        survivors.append(socket)
    assert await asyncio.to_thread(open_sockets_metric, server) == opened
