"""Every benchmark in one command, written up as one Markdown table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/all.py              # full run: writes bench/RESULTS.md
    ... bench/all.py --smoke                        # seconds, not minutes: CI's working-order check

It runs bench/run.py (HTTP: /health, task list, revalidated list, board, create, PATCH,
move on Daphne + PostgreSQL + Redis) with one Daphne process and with --processes (default:
one per core, as WEB_CONCURRENCY should be set), and bench/fanout.py (live events to 100
and 500 sockets, the pub/sub layer) on --processes, and collects their rows: requests or
events per second, the ratio of each HTTP rate to /health's in the same run, p50, p99,
errors, delivery ratio. The smoke run uses tiny loads and fails (exit 1) when a request errs or an
event is not delivered after gap repair; it asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"


LATEST_START, LATEST_END = "<!-- latest run: written by bench/all.py -->", "<!-- end of latest run -->"


def with_latest_run(text: str, latest: str) -> str:
    """The results page with its latest-run block replaced; the diary below it is kept."""
    block = f"{LATEST_START}\n{latest}{LATEST_END}"
    if LATEST_START in text and LATEST_END in text:
        before, _, rest = text.partition(LATEST_START)
        _, _, after = rest.partition(LATEST_END)
        return before + block + after
    return f"# Benchmark results\n\n## Latest run\n\n{block}\n" + (f"\n{text}" if text else "")


def table_rows(output: str) -> list[list[str]]:
    """The data rows of every Markdown table in a benchmark's output."""
    rows = []
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith(("| scenario", "| sockets", "|---")):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def run(script: str, *args: str) -> str:
    command = [sys.executable, str(HERE / script), *args]
    print("$", " ".join(command[1:]), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    print(done.stdout, flush=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sys.exit(f"{script} failed (exit {done.returncode})")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny loads, no results file; fail on errors")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="Daphne processes (WEB_CONCURRENCY; default: cores)"
    )
    args = parser.parse_args()
    processes = ["--processes", str(args.processes)]
    counts = sorted({1, args.processes})
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (and REDIS_URL to Redis).")
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL: the fan-out benchmark measures the Redis channel layer.")

    if args.smoke:
        https = {n: run("run.py", "--seconds", "1", "--connections", "2", "--processes", str(n)) for n in counts}
        fanout = run("fanout.py", "--sockets", "20", "--rate", "5", "--seconds", "2", "--layer", "pubsub", *processes)
    else:
        https = {n: run("run.py", "--seconds", "10", "--connections", "16", "--processes", str(n)) for n in counts}
        fanout = run("fanout.py", "--sockets", "100", "500", "--rate", "20", "--seconds", "15", *processes)

    lines = [
        "| benchmark | processes | load | per second | ratio to /health | p50 ms | p99 ms | errors | delivered "
        "| server CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    failures = []
    for count, http in https.items():
        for name, connections, rate, ratio, p50, p99, errors, cpu in table_rows(http):
            lines.append(
                f"| HTTP: {name} | {count} | {connections} connections | {rate} req | {ratio} | {p50} | {p99} "
                f"| {errors} | | {cpu} |"
            )
            if errors != "0":
                failures.append(f"{name} ({count} processes): {errors} errors")
    fanout_rows = table_rows(fanout)
    for sockets, events, live, repaired, p50, p99 in fanout_rows:
        lines.append(
            f"| live events (pub/sub) | {args.processes} | {sockets} sockets | {events} events | | {p50} | {p99} | 0 | "
            f"{repaired} ({live} live) | |"
        )
        if repaired != "100.00%":
            failures.append(f"fan-out to {sockets} sockets: {repaired} delivered after repair")
    if not fanout_rows:
        failures.append("the fan-out benchmark reported nothing")
    table = "\n".join(lines)
    print(table)
    if failures:
        sys.exit("benchmark smoke failed: " + "; ".join(failures))
    if args.smoke:
        return
    cores = os.cpu_count()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    latest = (
        f"Measured {stamp} with `python bench/all.py` on this machine: {cores} cores, "
        f"1 and {args.processes} Daphne processes (`WEB_CONCURRENCY`), "
        f"Python {platform.python_version()}, client and server on the same cores.\n\n"
        f"{table}\n\n"
        "Raw output:\n\n```\n" + re.sub(r"\n{3,}", "\n\n", "".join(https.values()) + fanout).strip() + "\n```\n"
    )
    RESULTS.write_text(with_latest_run(RESULTS.read_text() if RESULTS.exists() else "", latest))
    print(f"\nwrote {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
