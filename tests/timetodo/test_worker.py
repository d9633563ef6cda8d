"""The durable job queue and its worker: real worker processes on a real database.

Each test enqueues jobs from one process (`manage.py shell`, as a request would) into a
scratch database (SQLite, or PostgreSQL with DATABASE_URL) and runs `manage.py run_worker`
as the launcher will: what a job did is read from the file it writes, how it ended from
its row.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from tests.helpers.jobs import append_line, runs_of
from tests.timetodo.test_server import ROOT, base_environ, manage, scratch_database
from timetodo.jobs import RetryPolicy


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url) | {"LOG_LEVEL": "INFO"}
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


def shell(environ: dict[str, str], code: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def enqueue(environ: dict[str, str], job: str, **kwargs: object) -> str:
    """Enqueue in a transaction of its own, as a service does; the job's id."""
    return shell(
        environ,
        "from django.db import transaction\n"
        f"from tests.helpers.jobs import {job}\n"
        "with transaction.atomic():\n"
        f"    print({job}.enqueue(**{kwargs!r}).id)",
    ).strip()


def rows(environ: dict[str, str]) -> dict[str, dict[str, object]]:
    out = shell(
        environ,
        "import json\n"
        "from django_tasks_db.models import DBTaskResult\n"
        "print(json.dumps({str(r.pk): {'status': r.status, 'runs': len(r.worker_ids), 'traceback': r.traceback,"
        " 'return_value': r.return_value} for r in DBTaskResult.objects.all()}))",
    )
    return dict(json.loads(out.strip().splitlines()[-1]))


def start_worker(environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.1"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def eventually(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {seconds:g} s: {check.__doc__ or check}")
        time.sleep(0.1)


def stop(worker: subprocess.Popen[bytes]) -> int:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    return worker.wait(timeout=30)


def test_full_jitter_backoff_grows_and_is_capped() -> None:
    import random

    policy = RetryPolicy(attempts=10, base_seconds=10, cap_seconds=60)
    rng = random.Random(7)
    for failures, bound in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [policy.delay(failures, rng) for _ in range(200)]
        assert all(0 <= delay <= bound for delay in delays)
        assert max(delays) > bound * 0.8  # spread over the whole range, not clustered
        assert min(delays) < bound * 0.2


@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_in_a_rolled_back_transaction_never_existed(tmp_path: Path) -> None:
    def change_that_fails() -> None:
        with transaction.atomic():
            append_line.enqueue(path=str(tmp_path / "never"), line="x")
            assert DBTaskResult.objects.count() == 1  # (the row is in this transaction)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert DBTaskResult.objects.count() == 0
    with transaction.atomic():
        queued = append_line.enqueue(path=str(tmp_path / "once"), line="x")
    assert DBTaskResult.objects.get(pk=queued.id).status == "READY"


def test_the_worker_runs_each_committed_job_once(environ: dict[str, str], tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    ids = [enqueue(environ, "append_line", path=str(trace), line=f"job {n}") for n in range(3)]
    worker = start_worker(environ, tmp_path / "worker.log")
    try:
        eventually(lambda: runs_of(str(trace)) == 3)
        eventually(lambda: all(row["status"] == "SUCCESSFUL" for row in rows(environ).values()))
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()
    assert sorted(trace.read_text().splitlines()) == ["job 0", "job 1", "job 2"]
    assert {key: row["runs"] for key, row in rows(environ).items()} == dict.fromkeys(ids, 1)


def test_a_failing_job_is_retried_with_back_off_then_kept_as_failed(environ: dict[str, str], tmp_path: Path) -> None:
    flaky, broken = tmp_path / "flaky", tmp_path / "broken"
    flaky_id = enqueue(environ, "fail_then_succeed", path=str(flaky), failures=2)
    broken_id = enqueue(environ, "always_fail", path=str(broken))
    worker = start_worker(environ, tmp_path / "worker.log")
    try:
        eventually(lambda: rows(environ)[flaky_id]["status"] == "SUCCESSFUL")
        eventually(lambda: rows(environ)[broken_id]["status"] == "FAILED")
        time.sleep(1.5)  # (longer than any back-off of theirs: nothing runs again)
        found = rows(environ)
    finally:
        assert stop(worker) == 0
    assert runs_of(str(flaky)) == 3
    assert found[flaky_id]["runs"] == 3
    assert found[flaky_id]["return_value"] == "done"
    assert runs_of(str(broken)) == 3  # its policy's attempts, the first included
    assert found[broken_id]["runs"] == 3
    assert "this job never works" in str(found[broken_id]["traceback"])
    log = (tmp_path / "worker.log").read_text()
    assert "failed (run 1 of 3)" in log
    assert "failed for good after 3 runs" in log


def test_a_job_whose_worker_was_killed_runs_again_when_a_worker_starts(environ: dict[str, str], tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    job_id = enqueue(environ, "slow_first_run", path=str(trace), seconds=60)
    first = start_worker(environ, tmp_path / "first.log")
    try:
        eventually(lambda: runs_of(str(trace)) == 1)  # started, and sleeping
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert rows(environ)[job_id]["status"] == "RUNNING"  # abandoned
    second = start_worker(environ, tmp_path / "second.log")
    try:
        eventually(lambda: rows(environ)[job_id]["status"] == "SUCCESSFUL")
    finally:
        assert stop(second) == 0
    assert trace.read_text().splitlines() == ["started", "started", "finished"]
    assert rows(environ)[job_id]["runs"] == 2
    assert "was abandoned by worker" in (tmp_path / "second.log").read_text()


def test_sigterm_lets_the_job_under_way_finish_then_the_worker_exits_0(environ: dict[str, str], tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    job_id = enqueue(environ, "slow_first_run", path=str(trace), seconds=2)
    worker = start_worker(environ, tmp_path / "worker.log")
    try:
        eventually(lambda: runs_of(str(trace)) == 1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert trace.read_text().splitlines() == ["started", "finished"]
    assert rows(environ)[job_id]["status"] == "SUCCESSFUL"


def test_an_idle_worker_exits_0_on_sigterm(environ: dict[str, str], tmp_path: Path) -> None:
    worker = start_worker(environ, tmp_path / "worker.log")
    time.sleep(2)
    assert worker.poll() is None
    assert stop(worker) == 0
