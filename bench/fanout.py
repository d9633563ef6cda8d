"""Fan-out benchmark: N sockets following one project while a writer updates tasks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/fanout.py --sockets 100 500 --rate 20 --seconds 15 --processes 1 2

The scratch database (dropped and created again for each run) is timetodo_bench, as for
bench/run.py, unless --database names another: two people benchmarking on one PostgreSQL
server then do not drop each other's.

For each socket count, number of Daphne processes (--processes, WEB_CONCURRENCY, the
server started as the container starts it) and channel layer (--layer core pubsub; pub/sub
by default) it starts the server on PostgreSQL + Redis, opens the
sockets (authenticated, subscribed; a lean RFC 6455 client, bench/wsclient.py, so that the
500 readers do not take the server's CPU), PATCHes tasks on a schedule of --rate per second
for --seconds over 4 connections, and reports the events/s achieved, the delivery ratio
(every seq from first to last, after gap repair by resubscribing with `since`) and the
p50/p99 latency from the event's timestamp to its receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, TASKS, database_urls, environment, free_port, http, start_server
from wsclient import Socket, connect

WRITERS = 8  # connections issuing the updates, so one slow answer does not hold the schedule back


class Follower:
    def __init__(self) -> None:
        self.seqs: set[int] = set()
        self.latencies: list[float] = []
        self.repaired = 0
        self.live = True

    def on_frame(self, frame: dict) -> None:
        if frame.get("type") == "event" and frame["seq"] not in self.seqs:
            self.seqs.add(frame["seq"])
            if self.live:  # (a replay during repair is not a live delivery)
                self.latencies.append(time.time() - datetime.fromisoformat(frame["at"]).timestamp())


async def follow(port: int, token: str, project: str, follower: Follower, since: int | None = None) -> Socket:
    socket = await connect(port, follower.on_frame)
    await socket.request({"type": "auth", "token": token}, lambda reply: reply["type"] == "hello")
    subscribe = {"type": "subscribe", "project": project} | ({} if since is None else {"since": since})
    reply = await socket.request(subscribe, lambda reply: reply["type"] not in ("event", "pong"))
    if reply["type"] != "subscribed":
        raise RuntimeError(f"subscribe failed: {reply}")
    return socket


async def repair(port: int, token: str, project: str, follower: Follower, first: int, last: int) -> None:
    """What a client does on noticing a gap: subscribe again with `since`."""
    missing = sorted(set(range(first, last + 1)) - follower.seqs)
    if not missing:
        return
    before = len(follower.seqs)
    socket = await follow(port, token, project, follower, since=missing[0] - 1)
    follower.repaired += len(follower.seqs) - before
    socket.close()


async def measure(port: int, seed: dict, sockets: int, rate: float, seconds: float) -> str:
    project, token, tasks = seed["project"], seed["token"], seed["tasks"]
    followers = [Follower() for _ in range(sockets)]
    connections = []
    for start in range(0, sockets, 50):
        connections += await asyncio.gather(
            *(follow(port, token, project, follower) for follower in followers[start : start + 50])
        )
    updates = int(rate * seconds)
    started = time.monotonic()

    async def writer(first: int) -> None:
        """Updates first, first + WRITERS, ... each at its time on the schedule (or as
        soon as this connection's previous update has been answered, if later)."""
        reader, stream = await asyncio.open_connection("127.0.0.1", port)
        for n in range(first, updates, WRITERS):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            body = {"title": f"update {n}"}
            status, payload, _ = await http(
                reader, stream, "PATCH", f"/api/v1/tasks/{tasks[n % len(tasks)]}/", token, body
            )
            if status != 200:
                raise RuntimeError(f"update failed: {status} {payload[:200]!r}")
        stream.close()

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    elapsed = time.monotonic() - started
    await asyncio.sleep(2)
    first = min(min(f.seqs) for f in followers if f.seqs)
    last = max(max(f.seqs) for f in followers if f.seqs)
    expected = (last - first + 1) * len(followers)
    live = sum(len(f.seqs) for f in followers)
    for follower in followers:
        follower.live = False
        await repair(port, token, project, follower, first, last)
    repaired = sum(len(f.seqs) for f in followers)
    for socket in connections:
        socket.close()
    latencies = sorted(x for f in followers for x in f.latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return (
        f"| {sockets} | {updates / elapsed:.1f} | {live / expected:.2%} | {repaired / expected:.2%} | "
        f"{p50:.0f} | {p99:.0f} |"
    )


def prepare(admin_url: str, bench_url: str) -> dict:
    """An empty, migrated database with one seeded project (bench/seed.py)."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(bench_url.rsplit("/", 1)[1])
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
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
    return json.loads(seeded.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--layer", nargs="+", default=["pubsub"], choices=["core", "pubsub"])
    parser.add_argument("--processes", type=int, nargs="+", default=[1], help="Daphne processes (WEB_CONCURRENCY)")
    parser.add_argument("--database", default="timetodo_bench", help="the scratch database (dropped first!)")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL: the benchmark measures the Redis channel layer.")
    runs = [(layer, n, sockets) for layer in args.layer for n in args.processes for sockets in args.sockets]
    if len(runs) > 1:
        # One configuration per process and database: runs must not share leftovers.
        for layer, processes, sockets in runs:
            options = ["--sockets", str(sockets), "--layer", layer, "--processes", str(processes)]
            options += ["--rate", str(args.rate), "--seconds", str(args.seconds), "--database", args.database]
            subprocess.run([sys.executable, __file__, *options], check=False)
        return
    layer, processes, sockets = runs[0]
    admin_url, bench_url = database_urls()
    bench_url = f"{bench_url.rsplit('/', 1)[0]}/{args.database}"
    seed = prepare(admin_url, bench_url)
    print(f"\nchannel layer: {layer}, {processes} Daphne processes, {args.rate:g} updates/s for {args.seconds:g} s\n")
    print("| sockets | events/s | delivered live | after repair | p50 ms | p99 ms |\n|---|---|---|---|---|---|")
    port = free_port()
    env = {**environment(bench_url), "CHANNEL_LAYER": layer}
    with Path(os.environ.get("FANOUT_SERVER_LOG", os.devnull)).open("a") as log:
        server = start_server(port, env, processes, log)
        try:
            time.sleep(3 + 2 * processes)  # every process up before the sockets connect
            print(asyncio.run(measure(port, seed, sockets, args.rate, args.seconds)), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
