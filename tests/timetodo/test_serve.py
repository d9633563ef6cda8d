"""`python -m timetodo.serve`: one Daphne, or WEB_CONCURRENCY of them on one listening socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from websockets.exceptions import ConnectionClosed

from tests.conftest import requires_redis
from tests.realtime.test_server import call, next_frame, open_socket, register
from tests.timetodo.test_server import ROOT, Server, base_environ, daphne, free_port, manage, scratch_database
from timetodo.serve import ServeSettings, read_settings

WORKERS = 2
SOCKETS = 12


def test_settings_default_to_one_process_on_every_interface() -> None:
    assert read_settings({}) == ServeSettings("0.0.0.0", 8000, 1, 20, job_workers=1)  # noqa: S104
    environ = {"HOST": "127.0.0.1", "PORT": "9000", "WEB_CONCURRENCY": "4", "REDIS_URL": "redis://r:6379/0"}
    assert read_settings(environ | {"WS_HEARTBEAT_SECONDS": "30", "WORKER_CONCURRENCY": "0"}) == ServeSettings(
        "127.0.0.1", 9000, 4, 30, job_workers=0
    )


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
        ({"WORKER_CONCURRENCY": "-1"}, "WORKER_CONCURRENCY must be at least 0"),
        ({"WORKER_CONCURRENCY": "17"}, "WORKER_CONCURRENCY must be at most 16"),
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


def children_of(launcher: int, running: str) -> set[int]:
    """The launcher's child processes whose command line holds `running`."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == launcher and running.encode() in command:
            children.add(int(stat.parent.name))
    return children


def workers_of(launcher: int) -> set[int]:
    """The launcher's Daphne processes."""
    return children_of(launcher, "timetodo.webserver")


def job_workers_of(launcher: int) -> set[int]:
    return children_of(launcher, "run_worker")


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
    assert "timetodo.serve: SIGTERM: 2 workers drain, 1 job worker finishing its job" in server.log.read_text()


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


def gone(pid: int) -> bool:
    """the process has exited (a zombie not yet reaped by its new parent counts)"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def job_trace(tmp_path: Path) -> tuple[str, Callable[[], int]]:
    path = tmp_path / "jobs.trace"
    return str(path), lambda: len(path.read_text().splitlines()) if path.exists() else 0


def enqueue_lines(environ: dict[str, str], path: str, count: int) -> None:
    manage(
        environ,
        "shell",
        "--no-imports",
        "-c",
        "from django.db import transaction\n"
        "from tests.helpers.jobs import append_line\n"
        "with transaction.atomic():\n"
        f"    for n in range({count}): append_line.enqueue(path={path!r}, line=str(n))",
    )


def test_the_launcher_runs_a_job_worker_that_is_replaced_when_it_dies(environ: dict[str, str], tmp_path: Path) -> None:
    """One container does everything: jobs committed by any process are run by the launcher's
    job worker; a job worker that dies is started again; SIGHUP replaces it; SIGTERM stops it."""
    path, lines = job_trace(tmp_path)
    with daphne(environ, tmp_path) as server:
        launcher = server.process.pid
        eventually(lambda: len(job_workers_of(launcher)) == 1)
        (first,) = job_workers_of(launcher)
        enqueue_lines(environ, path, 3)
        eventually(lambda: lines() == 3)

        os.kill(first, signal.SIGKILL)
        eventually(lambda: len(job_workers_of(launcher)) == 1 and first not in job_workers_of(launcher))
        enqueue_lines(environ, path, 2)
        eventually(lambda: lines() == 5)

        (second,) = job_workers_of(launcher)
        server.process.send_signal(signal.SIGHUP)
        eventually(lambda: "rolling restart done" in server.log.read_text(), seconds=60)
        eventually(lambda: len(job_workers_of(launcher)) == 1 and second not in job_workers_of(launcher))
        enqueue_lines(environ, path, 1)
        eventually(lambda: lines() == 6)
        (third,) = job_workers_of(launcher)

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert not Path(f"/proc/{third}").exists()
    log = server.log.read_text()
    assert "timetodo.serve: 1 job worker: " in log
    assert f"job worker {first} exited with -9: starting another" in log
    assert f"job worker {second} stopped with 0" in log
    assert "1 job worker finishing its job" in log


def test_worker_concurrency_0_runs_no_job_worker(environ: dict[str, str], tmp_path: Path) -> None:
    with daphne(environ | {"WORKER_CONCURRENCY": "0"}, tmp_path) as server:
        assert workers_of(server.process.pid)
        time.sleep(1)
        assert not job_workers_of(server.process.pid)
    assert "job worker" not in server.log.read_text()


def test_a_job_worker_whose_launcher_is_killed_stops(environ: dict[str, str], tmp_path: Path) -> None:
    """No orphan: the job worker runs in a session of its own (a terminal's Ctrl-C reaches it
    only through the launcher), so it watches for its launcher to have gone."""
    with daphne(environ, tmp_path) as server:
        launcher = server.process.pid
        eventually(lambda: len(job_workers_of(launcher)) == 1)
        (job_worker,) = job_workers_of(launcher)
        web = workers_of(launcher)
        server.process.kill()
        server.process.wait()
        eventually(lambda: gone(job_worker))
        for pid in web:  # (the web processes are not ours to watch here: end them)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
