"""Fan-out benchmark: N sockets following one project while a writer updates tasks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/fanout.py --sockets 100 500 --rate 20 --seconds 15 --layer core pubsub

For each socket count and channel layer it starts Daphne on PostgreSQL + Redis, opens the
sockets (authenticated, subscribed), PATCHes tasks at --rate per second for --seconds, and
reports the delivery ratio (every seq from first to last, after gap repair by resubscribing
with `since`) and the p50/p99 latency from the event's timestamp to its receipt.
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

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, daphne_command, database_urls, environment, free_port, http, prepare


class Follower:
    def __init__(self) -> None:
        self.seqs: set[int] = set()
        self.latencies: list[float] = []
        self.repaired = 0

    async def run(self, socket: ClientConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 0.5))
            except TimeoutError:
                continue
            if frame.get("type") == "event":
                self.seqs.add(frame["seq"])
                sent = datetime.fromisoformat(frame["at"]).timestamp()
                self.latencies.append(time.time() - sent)


async def follow(port: int, token: str, project: str) -> ClientConnection:
    socket = await connect(f"ws://127.0.0.1:{port}/ws/", origin=Origin(f"http://127.0.0.1:{port}"), max_queue=None)
    await socket.send(json.dumps({"type": "auth", "token": token}))
    await socket.recv()
    await socket.send(json.dumps({"type": "subscribe", "project": project}))
    await socket.recv()
    return socket


async def repair(port: int, token: str, project: str, follower: Follower, first: int, last: int) -> None:
    """What a client does on noticing a gap: subscribe again with `since`."""
    missing = sorted(set(range(first, last + 1)) - follower.seqs)
    if not missing:
        return
    socket = await follow(port, token, project)
    await socket.send(json.dumps({"type": "subscribe", "project": project, "since": missing[0] - 1}))
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if frame["type"] == "event" and frame["seq"] not in follower.seqs:
            follower.seqs.add(frame["seq"])
            follower.repaired += 1
        if frame["type"] in ("subscribed", "resync_required"):
            break
    await socket.close()


async def measure(port: int, seed: dict, sockets: int, rate: float, seconds: float) -> str:
    project, token, tasks = seed["project"], seed["token"], seed["tasks"]
    connections = []
    for start in range(0, sockets, 50):
        connections += await asyncio.gather(
            *(follow(port, token, project) for _ in range(start, min(sockets, start + 50)))
        )
    followers = [Follower() for _ in connections]
    stop = asyncio.Event()
    readers = [asyncio.ensure_future(f.run(s, stop)) for f, s in zip(followers, connections, strict=True)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        body = {"title": f"update {sent}"}
        status, payload = await http(reader, writer, "PATCH", f"/api/v1/tasks/{tasks[sent % len(tasks)]}/", token, body)
        if status != 200:
            raise RuntimeError(f"update failed: {status} {payload[:200]!r}")
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    writer.close()
    await asyncio.sleep(2)
    stop.set()
    await asyncio.gather(*readers)
    first = min(min(f.seqs) for f in followers if f.seqs)
    last = max(max(f.seqs) for f in followers if f.seqs)
    expected = (last - first + 1) * len(followers)
    live = sum(len(f.seqs) for f in followers)
    for follower in followers:
        await repair(port, token, project, follower, first, last)
    repaired = sum(len(f.seqs) for f in followers)
    for socket in connections:
        await socket.close()
    latencies = sorted(x for f in followers for x in f.latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return (
        f"| {sockets} | {sent / seconds:.1f} | {live / expected:.2%} | {repaired / expected:.2%} | "
        f"{p50:.0f} | {p99:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--layer", nargs="+", default=["core"], choices=["core", "pubsub"])
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL: the benchmark measures the Redis channel layer.")
    if len(args.sockets) > 1 or len(args.layer) > 1:
        # One configuration per process and database: runs must not share leftovers.
        for layer in args.layer:
            for sockets in args.sockets:
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--sockets",
                        str(sockets),
                        "--layer",
                        layer,
                        "--rate",
                        str(args.rate),
                        "--seconds",
                        str(args.seconds),
                    ],
                    check=False,
                )
        return
    admin_url, bench_url = database_urls()
    seed = prepare(admin_url, bench_url)
    for layer in args.layer:
        print(f"\nchannel layer: {layer}, {args.rate:g} updates/s for {args.seconds:g} s\n")
        print("| sockets | events/s | delivered live | after repair | p50 ms | p99 ms |\n|---|---|---|---|---|---|")
        for sockets in args.sockets:
            port = free_port()
            env = {**environment(bench_url), "CHANNEL_LAYER": layer}
            log = Path(os.environ.get("FANOUT_SERVER_LOG", os.devnull)).open("a")  # noqa: SIM115 (closed below)
            server = subprocess.Popen(
                daphne_command(port),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                time.sleep(3)
                print(asyncio.run(measure(port, seed, sockets, args.rate, args.seconds)), flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
                log.close()


if __name__ == "__main__":
    main()
