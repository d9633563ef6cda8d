"""The background worker: runs the durable jobs of `timetodo.jobs`, one at a time.

    python manage.py run_worker

It claims the next due job as django-tasks-db's worker does (`SELECT ... FOR UPDATE SKIP
LOCKED` on PostgreSQL, an exclusive transaction on SQLite), runs it, and records how it
ended in one write that applies only if the row is still this run's claim (RUNNING, with
this claim's `started_at`): a run whose job was meanwhile handed to another worker cannot
overwrite that worker's outcome. Beside that:

- **Retries.** A job that raised is put back READY with `run_after` = now + its policy's
  back-off (`jobs.RetryPolicy`: exponential, full jitter), its traceback kept, until it has
  run `attempts` times; then it stays FAILED, visible in the admin. The same row is
  retried (`worker_ids` lists one entry per run), so retries never duplicate a job.
- **Abandoned jobs.** A worker killed mid-job (SIGKILL, the OOM killer, a lost machine)
  leaves its job RUNNING. Each worker, when it starts and every minute, puts such jobs back
  in the queue: at once if the worker that claimed it was a process of this machine that
  has gone (the worker id holds the process space — the kernel's boot and the pid
  namespace — the pid and the process's start time), and for any other worker once
  `JOB_LEASE_SECONDS` have passed since the run started. That run counts as an attempt (the job's own policy), so a job
  that kills its worker every time ends FAILED, not in a loop.
- **SIGTERM/SIGINT.** The job under way finishes, then the worker exits 0 (an idle one
  within `WORKER_POLL_SECONDS`; a job claimed as the signal came is put back unrun). A
  second signal stops the job at once: it is put back READY, that run not counted, and
  the worker exits 1. (A job that calls `sys.exit()` has failed, like any job that raises.)
- **The database going away** (a restart) is logged and waited out; the worker goes on
  (an outcome whose write was lost is written again once, over a new connection, and a job
  whose outcome could not be written at all is run again). Other database errors are bugs:
  they stop the worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import time
from datetime import timedelta
from pathlib import Path
from traceback import format_exception
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.db.models.functions import Now
from django.utils import timezone
from django_tasks.base import TaskContext, TaskResultStatus
from django_tasks.signals import task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from timetodo import health
from timetodo.jobs import policy_of
from timetodo.lifecycle import SUPERVISOR_PID_VARIABLE

logger = logging.getLogger(__name__)

RECOVER_EVERY_SECONDS = 60.0


def this_host() -> str:
    return socket.gethostname()[:20]


def _space() -> str:
    """Which process space this is: the kernel's boot and the pid namespace (containers
    sharing a host name, or a machine rebooted, are other spaces). Pids are compared only
    within one."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return "unknown"
    return hashlib.sha256(f"{boot}/{namespace}".encode()).hexdigest()[:10]


SPACE = _space()


def process_started(pid: int) -> str | None:
    """When a process of this space started (clock ticks since boot), None if it is gone,
    "?" if it exists but cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None if not _alive(pid) else "?"
    return stat.rpartition(")")[2].split()[19]  # field 22: starttime


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_worker_id() -> str:
    """`host:space:pid:start` (at most 64 characters, as django-tasks-db stores them): what
    lets a worker tell that a job's claimant was a process of its own process space that has
    gone, even if its pid now belongs to another process."""
    pid = os.getpid()
    return f"{this_host()}:{SPACE}:{pid}:{process_started(pid)}"


def claimant_state(worker_id: str) -> str:
    """ "gone" (a process of this space that no longer runs), "alive", or "unknown" (another
    space or machine, or not readable: only the lease can tell)."""
    parts = worker_id.split(":")
    if len(parts) != 4 or SPACE == "unknown" or parts[1] != SPACE or not parts[2].isdigit():
        return "unknown"
    started = process_started(int(parts[2]))
    if started is None or (started != "?" and started != parts[3]):
        return "gone"
    return "alive" if started == parts[3] else "unknown"


def recover_abandoned(*, backend_name: str = "default", own_id: str = "") -> int:
    """Put jobs whose worker has gone back in the queue (or fail them if that was their last
    attempt); how many. `own_id`: the calling worker, between two jobs: a job still marked
    as its own lost its outcome to a database error."""
    recovered = 0
    with transaction.atomic():
        running = DBTaskResult.objects.running().filter(backend_name=backend_name)
        lease_ends = Now() - timedelta(seconds=settings.JOB_LEASE_SECONDS)  # (the database's clock)
        expired = set(running.filter(started_at__lt=lease_ends).values_list("pk", flat=True))
        for row in running.select_for_update(skip_locked=True):
            claimant = row.worker_ids[-1] if row.worker_ids else ""
            # A live worker of this process space keeps its job however long it takes; one
            # that has gone loses it at once; of another worker only the lease can tell.
            state = "gone" if claimant == own_id else claimant_state(claimant)
            if state == "alive" or (state == "unknown" and row.pk not in expired):
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


def _json_or_none(value: Any, row: DBTaskResult) -> Any:
    try:
        text: str | None = json.dumps(value, allow_nan=False)  # (a database takes no NaN or Infinity)
    except Exception:
        text = None
    if text is None or "\\u0000" in text:  # (PostgreSQL's jsonb refuses a NUL too)
        logger.error("job %s (%s) returned a value that is not JSON: not kept", row.pk, row.task_path)
        return None
    return value


class StopNow(SystemExit):
    """Raised by a second stop signal: the job under way is put back, uncounted. (A job that
    itself raises SystemExit or KeyboardInterrupt has failed like any other.)"""


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
        supervisor = os.environ.get(SUPERVISOR_PID_VARIABLE, "").strip()
        self.supervisor = int(supervisor) if supervisor.isdigit() else None

    def orphaned(self) -> bool:
        if self.supervisor is None or os.getppid() == self.supervisor:
            return False
        logger.warning("the launcher (pid %d) has gone: stopping", self.supervisor)
        self.running = False
        return True

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.running:
            logger.warning("%s again: stopping now", name)
            self.reset_signals()
            raise StopNow(1)
        logger.info("%s: %s", name, "finishing the job under way, then exiting" if self.running_task else "exiting")
        self.running = False

    def run(self) -> None:
        logger.info("worker %s started", self.worker_id)
        while self.running:
            row = None
            try:
                if time.monotonic() - self.recovered_at > RECOVER_EVERY_SECONDS:
                    self.recover()
                close_old_connections()  # (a connection the database dropped while we slept)
                row = self.claim_next()
                if row is not None and not self.running:
                    self.release(row)  # (claimed as the stop signal came: not started)
                elif row is not None:
                    self.run_task(row)
            except (OperationalError, InterfaceError) as exc:  # (the database away: wait it out)
                logger.error("the database failed the worker (%s): trying again", exc, exc_info=True)
                self.recovered_at = -RECOVER_EVERY_SECONDS  # (a job of ours may be left RUNNING)
                row = None
            finally:
                close_old_connections()
            if self.running and row is None and not self.orphaned():
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
        row = db_task_result
        self.running_task = True
        try:
            task = row.task
            result = row.task_result
            task_started.send(sender=type(task.get_backend()), task_result=result)
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *result.args, **result.kwargs)  # type: ignore[arg-type]
            else:
                value = task.call(*result.args, **result.kwargs)
        except StopNow:
            self.release(row)  # (stopped at once: this run does not count)
            raise
        except BaseException as exc:  # (a job's own sys.exit() is its failure, not the worker's)
            self.failed(row, exc)
        else:
            self.succeeded(row, value)
        finally:
            self.running_task = False

    def settle(self, row: DBTaskResult, **fields: Any) -> bool:
        """Record how this run ended, if the row is still this run's claim: one guarded
        write, tried again once over a fresh connection if the first one was lost, with the
        stop signals held meanwhile (a second one must not come between a job's end and its
        record)."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            try:
                updated = self.write_outcome(row, fields)
            except (OperationalError, InterfaceError) as exc:
                logger.warning("recording job %s failed (%s): once more", row.pk, exc)
                close_old_connections()
                updated = self.write_outcome(row, fields)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if not updated:
            logger.warning("job %s (%s) was no longer this worker's: its outcome is dropped", row.pk, row.task_path)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
        return bool(updated)

    def write_outcome(self, row: DBTaskResult, fields: dict[str, Any]) -> int:
        running = DBTaskResult.objects.filter(pk=row.pk, status=TaskResultStatus.RUNNING, started_at=row.started_at)
        return running.update(**fields)

    def succeeded(self, row: DBTaskResult, value: Any) -> None:
        settled = self.settle(
            row,
            status=TaskResultStatus.SUCCESSFUL,
            finished_at=timezone.now(),
            return_value=_json_or_none(value, row),
            exception_class_path="",
            traceback="",
        )
        if settled:
            self.announce_finished(row)

    def failed(self, row: DBTaskResult, exc: BaseException) -> None:
        policy = policy_of(row.task_path)
        runs = len(row.worker_ids)
        error = {
            "exception_class_path": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "traceback": "".join(format_exception(exc)).replace("\x00", "\\x00"),  # (no NUL in a text column)
            "return_value": None,
        }
        if runs >= policy.attempts:
            if self.settle(row, status=TaskResultStatus.FAILED, finished_at=timezone.now(), **error):
                logger.error("job %s (%s) failed for good after %d runs: %s", row.pk, row.task_path, runs, exc)
                self.announce_finished(row)
            return
        delay = policy.delay(runs)
        run_after = timezone.now() + timedelta(seconds=delay)
        if self.settle(row, status=TaskResultStatus.READY, finished_at=None, run_after=run_after, **error):
            logger.warning(
                "job %s (%s) failed (run %d of %d): again in %.1f s: %s",
                row.pk,
                row.task_path,
                runs,
                policy.attempts,
                delay,
                exc,
            )

    def release(self, row: DBTaskResult) -> None:
        """Back in the queue as it was before this claim: this run does not count."""
        earlier_runs = row.worker_ids[:-1]
        if self.settle(
            row, status=TaskResultStatus.READY, run_after=timezone.now(), started_at=None, worker_ids=earlier_runs
        ):
            logger.warning("job %s (%s) put back in the queue unfinished", row.pk, row.task_path)

    def announce_finished(self, row: DBTaskResult) -> None:
        try:
            task_finished.send(sender=type(row.task.get_backend()), task_result=row.task_result)
        except Exception:  # (a receiver's failure must not turn a recorded outcome into another)
            logger.exception("a task_finished receiver failed for job %s", row.pk)

    def recover(self) -> None:
        self.recovered_at = time.monotonic()
        recover_abandoned(backend_name=self.backend_name, own_id=self.worker_id)


def run(*, interval: float | None = None) -> None:
    """Run jobs until a stop signal; first wait, as a web process does, for the database to
    answer with every migration applied (a new release's worker must not claim with an old
    schema, nor die and be restarted in a loop while the database starts)."""
    worker = JobWorker(interval=settings.WORKER_POLL_SECONDS if interval is None else interval)
    worker.configure_signals()

    def sleep(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while worker.running and not worker.orphaned() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not worker.running:
            logger.info("worker %s stopped before it was ready", worker.worker_id)
            raise SystemExit(0)

    health.wait_until_ready(
        report=lambda reason: logger.warning("not taking jobs yet: %s", reason), ready=logger.info, sleep=sleep
    )
    worker.run()
