"""HTTP benchmark: a project of 1,000 tasks served by a real Daphne on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/run.py

It creates a scratch database (timetodo_bench), migrates it, seeds one project with 1,000
tasks across 4 columns, starts Daphne with production settings, and drives it with an
asyncio HTTP/1.1 keep-alive client: requests/s and p50/p99 latency for `/health` (Daphne + Django's
request cycle and nothing else: the floor every view pays), the task list (a page of 100),
the same list revalidated with `If-None-Match` (304), task create, PATCH (title), move and
the board (1,000 tasks), each also as a ratio to the `/health` rate of the same run, so
figures compare across a noisy machine's days. Options: --seconds, --connections,
--processes (Daphne processes, WEB_CONCURRENCY; above 1 needs REDIS_URL), --keep (leave
the database for inspection).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
TASKS = 1000


Request = tuple[str, str, dict | None, dict[str, str]]  # method, path, body, extra headers


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float = float("nan")  # seconds of CPU the web processes spent meanwhile

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def row(self, connections: int, floor: float) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        cpu = self.server_cpu / self.requests * 1000 if self.requests else float("nan")
        return (
            f"| {self.name} | {connections} | {self.rate:.0f} | {self.rate / floor:.2f} | {p50:.1f} | {p99:.1f} "
            f"| {self.errors} | {cpu:.2f} |"
        )


def database_urls() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres")
    server = base.rsplit("/", 1)[0]
    return server + "/postgres", server + "/timetodo_bench"


def environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "THROTTLE_USER_RATE": "10000000/minute",
        "THROTTLE_ANON_RATE": "10000000/minute",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }


def prepare(admin_url: str, bench_url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS timetodo_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE timetodo_bench")
    env = environment(bench_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("seed.py")), str(TASKS)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    # Statistics, as autovacuum would gather them within a minute of the seeding: without
    # them PostgreSQL plans a fresh table as if it were empty (sequential scans).
    with psycopg.connect(bench_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return json.loads(seeded.stdout.strip().splitlines()[-1])


def start_server(port: int, env: dict[str, str], processes: int, log: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """The server as the container runs it (the Dockerfile's CMD, `python -m timetodo.serve`) on
    localhost, with `processes` Daphne processes (WEB_CONCURRENCY) sharing the port."""
    return subprocess.Popen(
        [sys.executable, "-m", "timetodo.serve"],
        cwd=ROOT,
        env={**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(processes)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def server_cpu_seconds(launcher_pid: int) -> float:
    """CPU time (user + system) used so far by the launcher and its web processes, from
    /proc (Linux): divided by the requests served meanwhile, a request's cost in the server
    alone, which the client sharing the cores and the machine's neighbours disturb far less
    than the rate."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(entry) == launcher_pid or int(fields[1]) == launcher_pid:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def http(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    token: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    payload = json.dumps(body).encode() if body is not None else b""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{extra}"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length, chunked, answer_headers = 0, False, {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        answer_headers[name.lower()] = value.strip()
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value:
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length), answer_headers
    data = b""
    while (size := int((await reader.readline()).strip(), 16)) > 0:
        data += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()
    return status, data, answer_headers


async def drive(
    port: int,
    name: str,
    make: Callable[[], Request],
    token: str,
    seconds: float,
    connections: int,
    expect: int | None = None,
) -> Result:
    """`connections` keep-alive clients sending make()'s requests for `seconds`; an answer
    of 400 or more, or other than `expect` when given, counts as an error."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                method, path, body, headers = make()
                started = time.perf_counter()
                status, _, _ = await http(reader, writer, method, path, token, body, headers)
                latencies.append(time.perf_counter() - started)
                if status >= 400 or (expect is not None and status != expect):
                    errors += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return Result(name, len(latencies), errors, time.monotonic() - started, latencies)


async def page_etags(port: int, paths: list[str], token: str) -> dict[str, str]:
    """Each list page's ETag, as a client keeps it from its last read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return {path: (await http(reader, writer, "GET", path, token))[2].get("etag", "") for path in paths}
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--processes", type=int, default=1, help="Daphne processes (WEB_CONCURRENCY; above 1 needs REDIS_URL)"
    )
    args = parser.parse_args()

    admin_url, bench_url = database_urls()
    seed = prepare(admin_url, bench_url)
    port = free_port()
    server = start_server(port, environment(bench_url), args.processes)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        project, columns, tasks, token = seed["project"], seed["columns"], seed["tasks"], seed["token"]
        rng = random.Random(1)
        pages = [f"/api/v1/tasks/?project={project}&page_size=100&page={n}" for n in range(1, 11)]
        etags = asyncio.run(page_etags(port, pages, token))

        def health() -> Request:
            return "GET", "/health", None, {}

        def task_list() -> Request:
            return "GET", rng.choice(pages), None, {}

        def revalidate() -> Request:
            path = rng.choice(pages)
            return "GET", path, None, {"If-None-Match": etags[path]} if etags[path] else {}

        def board() -> Request:
            return "GET", f"/api/v1/projects/{project}/board/", None, {}

        def create() -> Request:
            return "POST", "/api/v1/tasks/", {"project": project, "title": f"bench {uuid.uuid4().hex[:8]}"}, {}

        def patch() -> Request:
            return "PATCH", f"/api/v1/tasks/{rng.choice(tasks)}/", {"title": f"bench {uuid.uuid4().hex[:8]}"}, {}

        def move() -> Request:
            # Drop a random task at the end of a random column (cross-column most of the time).
            return "POST", f"/api/v1/tasks/{rng.choice(tasks)}/move/", {"column": rng.choice(columns)}, {}

        # The revalidation runs before any write, while the pages' ETags still hold.
        scenarios: list[tuple[str, Callable[[], Request], int | None]] = [
            ("/health (the floor)", health, 200),
            ("task list (100 of 1,000)", task_list, 200),
            ("task list, If-None-Match (304)", revalidate, 304),
            ("board (1,000 tasks)", board, 200),
            ("task create", create, 201),
            ("task PATCH (title)", patch, 200),
            ("task move", move, 200),
        ]
        print(
            f"Daphne ({args.processes} processes) on PostgreSQL, {args.connections} connections, "
            f"{args.seconds:g} s per scenario; ratio = req/s over /health's req/s; "
            "server CPU = the web processes' CPU time per request\n"
        )
        print(
            "| scenario | connections | req/s | ratio | p50 ms | p99 ms | errors | server CPU ms/req |\n"
            "|---|---|---|---|---|---|---|---|"
        )
        floor = 0.0
        for name, make, expect in scenarios:
            asyncio.run(drive(port, name, make, token, 1.0, args.connections, expect))  # warm up
            cpu_before = server_cpu_seconds(server.pid)
            result = asyncio.run(drive(port, name, make, token, args.seconds, args.connections, expect))
            result.server_cpu = server_cpu_seconds(server.pid) - cpu_before
            floor = floor or result.rate
            print(result.row(args.connections, floor), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)
        if not args.keep:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS timetodo_bench WITH (FORCE)")


if __name__ == "__main__":
    main()
