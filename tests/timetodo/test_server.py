"""The real server: Daphne started as a subprocess, probed over HTTP like a load balancer would."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "server-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
POSTGRES_URL = os.environ.get("DATABASE_URL", "")
USE_POSTGRES = POSTGRES_URL.startswith(("postgres://", "postgresql://"))


@dataclass
class Server:
    url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_environ(database_url: str) -> dict[str, str]:
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "0",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "DATABASE_POOL_TIMEOUT": "2",
        "DATABASE_CONNECT_TIMEOUT": "1",
    }
    if os.environ.get("REDIS_URL"):
        environ["REDIS_URL"] = os.environ["REDIS_URL"]
    return environ


def manage(environ: dict[str, str], *args: str) -> str:
    """Run a management command that must succeed; what it printed."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@contextmanager
def scratch_database(tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a new PostgreSQL database when DATABASE_URL is set."""
    if not USE_POSTGRES:
        yield f"sqlite:///{tmp_path / 'server.sqlite3'}"
        return
    import psycopg

    name = f"timetodo_server_{uuid.uuid4().hex[:12]}"
    admin_url = POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def daphne(environ: dict[str, str], tmp_path: Path, processes: int = 1) -> Iterator[Server]:
    """The server as the container's CMD starts it (`python -m timetodo.serve`), on localhost, once it serves."""
    release = start_release("server", ROOT, environ, tmp_path, processes)
    try:
        release.wait_healthy()
        yield Server(f"http://127.0.0.1:{release.port}", release.port, release.log, release.process)
    finally:
        release.stop()


STOP_WAIT_SECONDS = 30


@dataclass
class Release:
    name: str
    root: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def health(self) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/health")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while self.health() != 200:
            if self.process.poll() is not None:
                pytest.fail(f"release {self.name} exited with {self.process.returncode}:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"release {self.name} not healthy within {seconds:g} s:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_release(name: str, root: Path, environ: dict[str, str], tmp_path: Path, processes: int = 1) -> Release:
    port = free_port()
    log = tmp_path / f"release-{name}-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "timetodo.serve"],
            cwd=root,
            env={**environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(processes)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a container's processes are
        )
    return Release(name, root, port, log, process)


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, Message, dict]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_daphne_serves_health_probes_on_a_migrated_database(tmp_path: Path) -> None:
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url)
        manage(environ, "migrate", "--noinput", "-v0")
        with daphne(environ, tmp_path) as server:
            status, headers, body = get(f"{server.url}/health", {"X-Request-ID": "probe-42"})
            assert status == 200
            assert body["status"] == "healthy"
            assert headers["X-Request-ID"] == "probe-42"

            status, _, body = get(f"{server.url}/health/detailed")
            assert status == 200, body
            assert body["database"] == "healthy"
            assert body["channel_layer"] == "healthy"
            assert body["migrations"] == "applied"
            assert body["redis"] == ("healthy" if "REDIS_URL" in environ else "not_configured")

            # The container HEALTHCHECK command against the same server.
            probe = subprocess.run(
                [sys.executable, "-m", "timetodo.healthcheck"],
                cwd=ROOT,
                env={**environ, "PORT": str(server.port)},
                capture_output=True,
                timeout=30,
            )
            assert probe.returncode == 0, probe.stderr

            # Production settings: everything but the probes goes to HTTPS.
            request = urllib.request.Request(  # noqa: S310
                f"{server.url}/api/schema/", headers={"X-Request-ID": "redirected-1"}
            )
            opener = urllib.request.build_opener(NoRedirect)
            with pytest.raises(urllib.error.HTTPError) as redirect:
                opener.open(request, timeout=30)
            assert redirect.value.code == 301
            assert redirect.value.headers["Location"].startswith("https://")
        log = server.log.read_text()
    assert "[probe-42] timetodo.request: GET /health 200" in log
    assert "[redirected-1] timetodo.request: GET /api/schema/ 301" in log


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def not_serving(release: Release, reason: str) -> str:
    """The release says why in its log and answers nothing, so no load balancer sends it work."""
    deadline = time.monotonic() + 30
    while f"not serving yet: {reason}" not in release.log.read_text():
        assert release.process.poll() is None, release.log.read_text()
        assert time.monotonic() < deadline, release.log.read_text()
        time.sleep(0.2)
    assert release.health() == 0
    return release.log.read_text()


def test_a_release_with_pending_migrations_does_not_serve_and_names_them(tmp_path: Path) -> None:
    with scratch_database(tmp_path) as database_url:
        release = start_release("A", ROOT, base_environ(database_url), tmp_path)
        try:
            log = not_serving(release, "migrations: ")
            assert re.search(r"not serving yet: migrations: \d+ unapplied migration\(s\): \w+\.0001_initial", log)
        finally:
            release.stop()
        assert release.process.returncode == 0


def test_a_release_whose_database_is_unreachable_does_not_serve_and_names_it(tmp_path: Path) -> None:
    environ = base_environ("postgres://nobody@127.0.0.1:1/nothing")
    # Production defaults: a pooled connection would wait this long. The readiness check
    # probes directly and says why within seconds.
    environ.pop("DATABASE_CONNECT_TIMEOUT")
    environ["DATABASE_POOL_TIMEOUT"] = "60"
    release = start_release("A", ROOT, environ, tmp_path)
    try:
        log = not_serving(release, "database: ")
        assert "127.0.0.1" in log
        assert "port 1" in log
    finally:
        release.stop()
    assert release.process.returncode == 0
