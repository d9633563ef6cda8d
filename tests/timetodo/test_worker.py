"""The durable job queue and its worker: real worker processes on a real database.

Each test enqueues jobs from one process (`manage.py shell`, as a request would) into a
scratch database (SQLite, or PostgreSQL with DATABASE_URL) and runs `manage.py run_worker`
as the launcher will: what a job did is read from the file it writes, how it ended from
its row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.helpers.jobs import append_line, runs_of
from tests.timetodo.test_server import ROOT, base_environ, manage, scratch_database
from timetodo import jobs as jobs_module
from timetodo import worker as worker_module
from timetodo.jobs import RetryPolicy


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url) | {"LOG_LEVEL": "INFO"}
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


def shell(environ: dict[str, str], code: str) -> str:
    return manage(environ, "shell", "--no-imports", "-c", code)


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


def started(log: Path) -> Callable[[], bool]:
    def check() -> bool:
        """the worker said it started (its signal handlers are set)"""
        return log.exists() and "started" in log.read_text()

    return check


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
    trace, gate, log = tmp_path / "trace", tmp_path / "gate", tmp_path / "worker.log"
    job_id = enqueue(environ, "gated", path=str(trace), gate=str(gate))
    worker = start_worker(environ, log)
    try:
        eventually(started(log))
        eventually(lambda: runs_of(str(trace)) >= 1)  # (running, held at the gate)
        worker.send_signal(signal.SIGTERM)
        eventually(lambda: "finishing the job under way" in log.read_text())
        assert worker.poll() is None
        gate.touch()
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert trace.read_text().splitlines() == ["started", "finished"]
    assert rows(environ)[job_id]["status"] == "SUCCESSFUL"


def test_an_idle_worker_exits_0_on_sigterm(environ: dict[str, str], tmp_path: Path) -> None:
    worker = start_worker(environ, tmp_path / "worker.log")
    eventually(started(tmp_path / "worker.log"))
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=5) == 0


def test_a_second_signal_stops_the_job_and_puts_it_back_uncounted(environ: dict[str, str], tmp_path: Path) -> None:
    trace, log = tmp_path / "trace", tmp_path / "worker.log"
    job_id = enqueue(environ, "gated", path=str(trace), gate=str(tmp_path / "never"))
    worker = start_worker(environ, log)
    try:
        eventually(started(log))
        eventually(lambda: runs_of(str(trace)) >= 1)
        worker.send_signal(signal.SIGTERM)
        eventually(lambda: "finishing the job under way" in log.read_text())
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 1
    finally:
        if worker.poll() is None:
            worker.kill()
    row = rows(environ)[job_id]
    assert row["status"] == "READY"
    assert row["runs"] == 0


def test_two_workers_run_each_job_exactly_once(environ: dict[str, str], tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    shell(
        environ,
        "from django.db import transaction\n"
        "from tests.helpers.jobs import append_line\n"
        "with transaction.atomic():\n"
        f"    for n in range(30): append_line.enqueue(path={str(trace)!r}, line=str(n))",
    )
    workers = [start_worker(environ, tmp_path / f"worker{n}.log") for n in range(2)]
    try:
        eventually(lambda: runs_of(str(trace)) >= 30)
        eventually(lambda: all(row["status"] == "SUCCESSFUL" for row in rows(environ).values()))
        time.sleep(0.5)
    finally:
        assert [stop(worker) for worker in workers] == [0, 0]
    assert sorted(trace.read_text().splitlines(), key=int) == [str(n) for n in range(30)]
    assert {row["runs"] for row in rows(environ).values()} == {1}


def test_a_result_that_is_not_json_is_dropped_not_retried(environ: dict[str, str], tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    job_id = enqueue(environ, "returns_a_set", path=str(trace))
    worker = start_worker(environ, tmp_path / "worker.log")
    try:
        eventually(lambda: rows(environ)[job_id]["status"] == "SUCCESSFUL")
        time.sleep(1)
    finally:
        assert stop(worker) == 0
    assert runs_of(str(trace)) == 1
    assert rows(environ)[job_id]["return_value"] is None
    assert "not JSON" in (tmp_path / "worker.log").read_text()


# In-process: the worker's decisions on rows of the test database.


def claimed(job_id: Any, worker_id: str, *, minutes_ago: float = 0) -> DBTaskResult:
    row = DBTaskResult.objects.get(pk=job_id)
    row.claim(worker_id)
    if minutes_ago:
        row.started_at = timezone.now() - timedelta(minutes=minutes_ago)
        row.save(update_fields=["started_at"])
    return row


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.django_db(transaction=True)
def test_recovery_takes_back_only_jobs_whose_worker_is_gone(tmp_path: Path, settings: Any) -> None:
    settings.JOB_LEASE_SECONDS = 600
    here, space, pid = worker_module.this_host(), worker_module.SPACE, os.getpid()
    start = worker_module.process_started(pid)
    cases = {
        "live worker here, long job": (f"{here}:{space}:{pid}:{start}", 60, "RUNNING"),
        "dead worker here": (f"{here}:{space}:{dead_pid()}:1", 0, "READY"),
        "pid reused here": (f"{here}:{space}:{pid}:not-its-start", 0, "READY"),
        "same host name, other pid space, within the lease": (f"{here}:otherspace:{pid}:{start}", 5, "RUNNING"),
        "same host name, other pid space, lease over": (f"{here}:otherspace:1:1", 11, "READY"),
        "elsewhere, within the lease": ("elsewhere:x:1:1", 5, "RUNNING"),
        "elsewhere, lease over": ("elsewhere:x:1:1", 11, "READY"),
        "the caller's own, outcome lost": ("own-id", 0, "READY"),
    }
    ids = {}
    with transaction.atomic():
        for name in cases:
            ids[name] = append_line.enqueue(path=str(tmp_path / "x"), line=name).id
    for name, (claimant, minutes_ago, _) in cases.items():
        claimed(ids[name], claimant, minutes_ago=minutes_ago)
    assert worker_module.recover_abandoned(own_id="own-id") == 5
    found = {name: DBTaskResult.objects.get(pk=ids[name]).status for name in cases}
    assert found == {name: expected for name, (_, _, expected) in cases.items()}


@pytest.mark.django_db(transaction=True)
def test_a_job_abandoned_on_its_last_attempt_fails_by_its_own_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.jobs import once_only

    with transaction.atomic():
        job_id = once_only.enqueue(path=str(tmp_path / "x")).id
    claimed(job_id, f"{worker_module.this_host()}:{worker_module.SPACE}:{dead_pid()}:1")
    # As in a worker that has just started: no job module imported, no policy known yet.
    monkeypatch.delitem(sys.modules, "tests.helpers.jobs")
    monkeypatch.delitem(jobs_module.POLICIES, "tests.helpers.jobs.once_only")
    assert worker_module.recover_abandoned() == 1
    row = DBTaskResult.objects.get(pk=job_id)
    assert row.status == "FAILED"  # (the default policy would have allowed 5 runs)
    assert row.exception_class_path == "timetodo.worker.WorkerLost"


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_waits_its_back_off_and_the_last_one_stays_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.jobs import always_fail

    monkeypatch.setattr(RetryPolicy, "delay", lambda self, failures, rng=None: 30.0 * failures)
    with transaction.atomic():
        job_id = always_fail.enqueue(path=str(tmp_path / "x")).id
    worker = worker_module.JobWorker(interval=0.1)
    for run in (1, 2):
        row = claimed(job_id, worker.worker_id)
        before = timezone.now()
        worker.run_task(row)
        row.refresh_from_db()
        assert row.status == "READY"
        assert before + timedelta(seconds=30 * run - 1) <= row.run_after <= timezone.now() + timedelta(seconds=30 * run)
        assert "this job never works" in row.traceback
        DBTaskResult.objects.filter(pk=job_id).update(run_after=timezone.now())  # (due now)
    row = claimed(job_id, worker.worker_id)
    worker.run_task(row)
    row.refresh_from_db()
    assert row.status == "FAILED"
    assert len(row.worker_ids) == 3


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_job_was_taken_back_cannot_overwrite_the_next_run(tmp_path: Path) -> None:
    with transaction.atomic():
        job_id = append_line.enqueue(path=str(tmp_path / "x"), line="x").id
    first = worker_module.JobWorker(interval=0.1)
    stale = claimed(job_id, first.worker_id)
    DBTaskResult.objects.filter(pk=job_id).update(status="READY")  # (recovered meanwhile...)
    claimed(job_id, "elsewhere:1:1:abc")  # (... and claimed by another worker)
    first.run_task(stale)
    row = DBTaskResult.objects.get(pk=job_id)
    assert row.status == "RUNNING"
    assert row.worker_ids[-1] == "elsewhere:1:1:abc"


def run_once(name: str, tmp_path: Path) -> DBTaskResult:
    from importlib import import_module

    with transaction.atomic():
        job_id = getattr(import_module("tests.helpers.jobs"), name).enqueue(path=str(tmp_path / "trace")).id
    worker = worker_module.JobWorker(interval=0.1)
    worker.run_task(claimed(job_id, worker.worker_id))
    return DBTaskResult.objects.get(pk=job_id)


@pytest.mark.django_db(transaction=True)
def test_a_job_that_calls_sys_exit_has_failed_and_the_worker_goes_on(tmp_path: Path) -> None:
    row = run_once("exits", tmp_path)  # (the call returns: the worker was not stopped)
    assert row.status == "READY"  # (retried: its policy allows 2 runs)
    assert row.exception_class_path == "builtins.SystemExit"


@pytest.mark.django_db(transaction=True)
def test_a_result_no_database_takes_as_json_is_dropped(tmp_path: Path) -> None:
    row = run_once("returns_nan", tmp_path)
    assert row.status == "SUCCESSFUL"
    assert row.return_value is None


@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_while_recording_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    real = worker_module.JobWorker.write_outcome
    calls: list[int] = []

    def flaky(self: worker_module.JobWorker, row: DBTaskResult, fields: dict[str, Any]) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(self, row, fields)

    monkeypatch.setattr(worker_module.JobWorker, "write_outcome", flaky)
    row = run_once("append_line_default", tmp_path)
    assert row.status == "SUCCESSFUL"
    assert len(calls) == 2


def test_a_job_module_that_fails_to_import_gets_the_default_policy() -> None:
    assert jobs_module.policy_of("tests.helpers.broken_jobs.anything") == RetryPolicy()
