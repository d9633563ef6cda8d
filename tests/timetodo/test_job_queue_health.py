"""The job queue as operators see it: `/health/detailed`, `check_services` and `/metrics`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tests.helpers.jobs import append_line
from tests.timetodo.test_metrics import sample
from timetodo import health

pytestmark = pytest.mark.django_db


def enqueue(count: int = 1) -> list[DBTaskResult]:
    with transaction.atomic():
        ids = [append_line.enqueue(path="/nonexistent/never-run", line=str(n)).id for n in range(count)]
    return list(DBTaskResult.objects.filter(pk__in=ids))


def age(row: DBTaskResult, seconds: float) -> None:
    DBTaskResult.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(seconds=seconds))


def test_an_empty_queue_is_healthy_with_its_figures(client: Client) -> None:
    response = client.get("/health/detailed")
    body = response.json()
    assert body["jobs"] == "healthy", body
    assert body["queue"] == {
        "pending": 0,
        "oldest_pending_seconds": 0.0,
        "scheduled": 0,
        "running": 0,
        "failed": 0,
        "successful": 0,
    }


def test_the_oldest_due_job_is_reported_and_a_backlog_fails_the_check(client: Client, settings) -> None:
    settings.JOB_BACKLOG_SECONDS = 300
    first, second, later = enqueue(3)
    age(first, 120)
    age(second, 30)
    # A retry waiting for its back-off is not due: it neither counts as pending nor ages the queue.
    DBTaskResult.objects.filter(pk=later.pk).update(
        run_after=timezone.now() + timedelta(minutes=5), enqueued_at=timezone.now() - timedelta(hours=1)
    )
    body = client.get("/health/detailed").json()
    assert body["jobs"] == "healthy"
    assert body["queue"]["pending"] == 2
    assert body["queue"]["scheduled"] == 1
    assert 119 <= body["queue"]["oldest_pending_seconds"] < 150

    age(first, 400)  # no worker took it for longer than JOB_BACKLOG_SECONDS
    response = client.get("/health/detailed")
    body = response.json()
    assert response.status_code == 503
    assert body["jobs"] == "backlogged"
    assert body["failing"] == ["jobs"]
    assert body["queue"]["oldest_pending_seconds"] >= 400


def test_a_retry_that_became_due_ages_from_its_run_after(settings) -> None:
    (row,) = enqueue()
    DBTaskResult.objects.filter(pk=row.pk).update(
        enqueued_at=timezone.now() - timedelta(hours=2), run_after=timezone.now() - timedelta(seconds=60)
    )
    queue = health.queue_figures()
    assert queue.pending == 1
    assert 59 <= queue.oldest_pending_seconds < 90


def test_running_failed_and_successful_jobs_are_counted() -> None:
    rows = enqueue(4)
    states = (TaskResultStatus.RUNNING, TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL)
    for row, status in zip(rows[:3], states, strict=True):
        DBTaskResult.objects.filter(pk=row.pk).update(status=status)
    queue = health.queue_figures()
    assert (queue.pending, queue.running, queue.failed, queue.successful) == (1, 1, 1, 1)


def test_check_services_reports_the_queue_and_fails_on_a_backlog(capsys, settings) -> None:
    call_command("check_services")
    out = capsys.readouterr().out
    assert any(line.startswith("jobs") and " OK " in line and "0 due" in line for line in out.splitlines()), out

    settings.JOB_BACKLOG_SECONDS = 60
    (row,) = enqueue()
    age(row, 90)
    with pytest.raises(CommandError, match="jobs"):
        call_command("check_services")
    out = capsys.readouterr().out
    assert "1 due (the oldest waiting" in out
    assert "WORKER_CONCURRENCY" in out  # what to check


def test_metrics_count_jobs_by_state(client: Client, settings) -> None:
    settings.METRICS_TOKEN = ""
    first, _ = enqueue(2)
    DBTaskResult.objects.filter(pk=first.pk).update(status=TaskResultStatus.FAILED)
    text = client.get("/metrics").content.decode()
    assert sample(text, 'timetodo_jobs{state="pending"}') == 1
    assert sample(text, 'timetodo_jobs{state="failed"}') == 1
    assert sample(text, 'timetodo_jobs{state="running"}') == 0
    assert sample(text, "timetodo_jobs_oldest_pending_seconds") >= 0
    assert text.count("# TYPE timetodo_jobs gauge") == 1
