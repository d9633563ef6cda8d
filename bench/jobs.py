"""The durable job queue: what enqueuing costs a request, and how fast workers drain it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/jobs.py

On a scratch PostgreSQL database (timetodo_bench_jobs): the cost of enqueuing a job inside
a transaction (the row a service writes with its change) beside the cost of the same
transaction writing an Activity-sized row of our own, as a ratio; then --jobs trivial jobs
drained by 1 and by 2 `manage.py run_worker` processes (jobs per second, from the first
job's end to the last one's); and the delay from the commit of a job to its start with an idle
worker polling every WORKER_POLL_SECONDS (median of --probes). Options: --jobs, --probes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import SECRET  # noqa: E402


def environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }


def shell(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


ENQUEUE_COST = """
import json, time
from django.db import connection, transaction
from tests.helpers.jobs import append_line
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS bench_row (id uuid PRIMARY KEY, body jsonb, at timestamptz)")
import uuid
from django.utils import timezone
def timed(write, n={n}):
    started = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            write(i)
    return (time.perf_counter() - started) / n * 1000
def plain(i):
    with connection.cursor() as cursor:
        row = [uuid.uuid4(), json.dumps({{"i": i}}), timezone.now()]
        cursor.execute("INSERT INTO bench_row VALUES (%s, %s, %s)", row)
def job(i):
    append_line.enqueue(path="/dev/null", line=str(i))
timed(plain, 50); timed(job, 50)
print(json.dumps({{"plain": timed(plain), "job": timed(job)}}))
"""

ENQUEUE_MANY = """
import time
from django.db import transaction
from tests.helpers.jobs import append_line
with transaction.atomic():
    for i in range({n}):
        append_line.enqueue(path={path!r}, line=str(i))
print(time.time())
"""


def drain(env: dict[str, str], jobs: int, workers: int) -> float:
    trace = Path(tempfile.mkdtemp()) / "trace"
    shell(env, "from django_tasks_db.models import DBTaskResult; DBTaskResult.objects.all().delete(); print(1)")
    shell(env, ENQUEUE_MANY.format(n=jobs, path=str(trace)))
    started = time.monotonic()
    procs = [
        subprocess.Popen([sys.executable, "manage.py", "run_worker", "--interval", "0.05"], cwd=ROOT, env=env)
        for _ in range(workers)
    ]
    try:
        while not trace.exists():  # (the workers' start-up is not the queue's speed)
            time.sleep(0.01)
        first = time.monotonic()
        while len(trace.read_text().splitlines()) < jobs:
            time.sleep(0.05)
            if time.monotonic() - started > 300:
                sys.exit("the workers did not drain the queue within 300 s")
        elapsed = time.monotonic() - first
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    return (jobs - 1) / elapsed


def pickup(env: dict[str, str], probes: int) -> float:
    trace = Path(tempfile.mkdtemp()) / "trace"
    worker = subprocess.Popen([sys.executable, "manage.py", "run_worker"], cwd=ROOT, env=env)
    delays = []
    try:
        time.sleep(3)
        for n in range(probes):
            committed = float(shell(env, ENQUEUE_MANY.format(n=1, path=str(trace))))  # (wall clock)
            while not trace.exists() or len(trace.read_text().splitlines()) <= n:
                time.sleep(0.01)
            delays.append(trace.stat().st_mtime - committed)  # when the job wrote its line
            time.sleep(0.37)  # (the next commit at another point of the worker's poll)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return statistics.median(delays) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=5)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server")
    import psycopg

    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    bench_url = base.rsplit("/", 1)[0] + "/timetodo_bench_jobs"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS timetodo_bench_jobs WITH (FORCE)")
        conn.execute("CREATE DATABASE timetodo_bench_jobs")
    env = environment(bench_url)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        cost = json.loads(shell(env, ENQUEUE_COST.format(n=max(args.jobs // 2, 100))))
        print("| measure | value |\n|---|---|")
        print(f"| transaction with one plain row, ms | {cost['plain']:.2f} |")
        print(f"| transaction with one job enqueued, ms | {cost['job']:.2f} |")
        print(f"| enqueue cost, ratio to the plain row | {cost['job'] / cost['plain']:.2f} |")
        for workers in (1, 2):
            print(f"| {args.jobs} trivial jobs, {workers} worker(s), jobs/s | {drain(env, args.jobs, workers):.0f} |")
        print(f"| commit to start, idle worker, median ms | {pickup(env, args.probes):.0f} |")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS timetodo_bench_jobs WITH (FORCE)")


if __name__ == "__main__":
    main()
