"""The background worker: runs the durable jobs of `timetodo.jobs`, one at a time.

    python manage.py run_worker

It is django-tasks-db's worker (claim the next due job under `SELECT ... FOR UPDATE SKIP
LOCKED`, run it, record the outcome) with what a job queue we trust needs beside it:

- **Retries.** A job that raised runs again after its policy's back-off (`jobs.RetryPolicy`:
  exponential, full jitter) until it has run `attempts` times; then it stays FAILED with
  its traceback, visible in the admin. The same row is retried (its `worker_ids` list one
  entry per run), so a job is never duplicated by its retries.
- **Abandoned jobs.** A worker killed mid-job (SIGKILL, the OOM killer, a lost machine)
  leaves its job RUNNING. Each worker, when it starts and every minute, puts such jobs back
  in the queue: at once if the worker that claimed it ran on this machine and its process
  is gone, otherwise once `JOB_LEASE_SECONDS` have passed since it started. That run
  counts as an attempt, so a job that kills its worker every time ends FAILED, not in a loop.
- **SIGTERM/SIGINT.** The job under way finishes, then the worker exits 0; an idle worker
  exits within `WORKER_POLL_SECONDS`. A second signal stops it at once (the job under way
  is then recorded as a failed run and retried).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from datetime import timedelta
from types import FrameType

from django.conf import settings
from django.db import OperationalError, close_old_connections, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from timetodo.jobs import policy_of

logger = logging.getLogger(__name__)

RECOVER_EVERY_SECONDS = 60.0


def this_host() -> str:
    return socket.gethostname()[:40]


def new_worker_id() -> str:
    """`host:pid:random` (at most 64 characters, as django-tasks-db stores them): what lets a
    worker tell that a job's claimant was a process of this machine that has gone."""
    return f"{this_host()}:{os.getpid()}:{get_random_string(8)}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claimant_gone(worker_id: str) -> bool:
    """The worker that claimed a job was a process of this machine that no longer runs."""
    host, _, rest = worker_id.partition(":")
    pid, _, _ = rest.partition(":")
    return host == this_host() and pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid))


def recover_abandoned(*, backend_name: str = "default") -> int:
    """Put jobs whose worker has gone back in the queue (or fail them if that was their last
    attempt); how many."""
    lease_ends = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    recovered = 0
    with transaction.atomic():
        running = DBTaskResult.objects.running().filter(backend_name=backend_name).select_for_update(skip_locked=True)
        for row in running:
            claimant = row.worker_ids[-1] if row.worker_ids else ""
            if not (claimant_gone(claimant) or (row.started_at is not None and row.started_at < lease_ends)):
                continue
            policy = policy_of(row.task_path)
            if len(row.worker_ids) >= policy.attempts:
                row.status = TaskResultStatus.FAILED
                row.finished_at = timezone.now()
                row.exception_class_path = "timetodo.worker.WorkerLost"
                row.traceback = f"The worker {claimant} stopped while running this job (its last attempt)."
                row.save(update_fields=["status", "finished_at", "exception_class_path", "traceback"])
            else:
                row.status = TaskResultStatus.READY
                row.run_after = timezone.now()
                row.save(update_fields=["status", "run_after"])
            logger.warning("job %s (%s) was abandoned by worker %s: %s", row.pk, row.task_path, claimant, row.status)
            recovered += 1
    return recovered


class JobWorker(Worker):
    def __init__(self, *, interval: float, backend_name: str = "default", worker_id: str | None = None) -> None:
        super().__init__(
            queue_names=["*"],
            interval=interval,
            batch=False,
            backend_name=backend_name,
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id or new_worker_id(),
            excluded_queue_names=[],
        )
        self.recovered_at = -RECOVER_EVERY_SECONDS

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.running:
            logger.warning("%s again: stopping now", name)
            self.reset_signals()
            sys.exit(1)
        logger.info("%s: %s", name, "finishing the job under way, then exiting" if self.running_task else "exiting")
        self.running = False

    def run(self) -> None:
        logger.info("worker %s started", self.worker_id)
        while self.running:
            if time.monotonic() - self.recovered_at > RECOVER_EVERY_SECONDS:
                self.recover()
            close_old_connections()  # (a connection the database dropped while we slept)
            row = self.claim_next()
            if row is not None:
                self.run_task(row)
            close_old_connections()
            if self.running and row is None:
                time.sleep(self.interval)
        logger.info("worker %s stopped", self.worker_id)

    def claim_next(self) -> DBTaskResult | None:
        due = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        with exclusive_transaction(due.db):
            try:
                row = due.get_locked()
            except OperationalError as exc:
                if is_locked_database_exception(exc):  # (SQLite: another writer; next round)
                    return None
                raise
            if row is not None:
                row.claim(self.worker_id)
        return row

    def run_task(self, db_task_result: DBTaskResult) -> None:
        super().run_task(db_task_result)  # (records success, or failure with its traceback)
        if db_task_result.status == TaskResultStatus.FAILED:
            self.retry_or_fail(db_task_result)

    def retry_or_fail(self, row: DBTaskResult) -> None:
        policy = policy_of(row.task_path)
        runs = len(row.worker_ids)
        if runs >= policy.attempts:
            logger.error("job %s (%s) failed for good after %d runs", row.pk, row.task_path, runs)
            return
        delay = policy.delay(runs)
        row.status = TaskResultStatus.READY
        row.finished_at = None
        row.run_after = timezone.now() + timedelta(seconds=delay)
        row.save(update_fields=["status", "finished_at", "run_after"])
        logger.warning(
            "job %s (%s) failed (run %d of %d): again in %.1f s", row.pk, row.task_path, runs, policy.attempts, delay
        )

    def recover(self) -> None:
        self.recovered_at = time.monotonic()
        recover_abandoned(backend_name=self.backend_name)


def run(*, interval: float | None = None) -> None:
    worker = JobWorker(interval=settings.WORKER_POLL_SECONDS if interval is None else interval)
    worker.configure_signals()
    worker.run()
