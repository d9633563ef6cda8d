"""Time tracking: entries and timers. Finished minutes are summed on the task as they change."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import User
from tasks.models import Task, TimeEntry
from tasks.serializers import MAX_ENTRY_MINUTES, TimeEntrySerializer
from tasks.services.common import lock_project, lock_project_of, record
from timetodo.errors import Conflict, Invalid, NotFound

CLOCK_SKEW = datetime.timedelta(minutes=5)
MAX_SPAN = datetime.timedelta(minutes=MAX_ENTRY_MINUTES)


EARLIEST = datetime.timedelta(days=366 * 5)


def _check_start(started_at: datetime.datetime, *, running: bool = False) -> None:
    """Before any date arithmetic: not in the future, not absurdly far back (a running timer:
    within its 24 hours)."""
    now = timezone.now()
    if started_at > now + CLOCK_SKEW:
        raise Invalid({"started_at": ["An entry cannot start in the future."]})
    if started_at < now - (MAX_SPAN if running else EARLIEST):
        limit = "24 hours" if running else "5 years"
        raise Invalid({"started_at": [f"That start is more than {limit} ago."]})


def _span(started_at: datetime.datetime, ended_at: datetime.datetime) -> int:
    """Whole minutes of a valid entry: ends after it starts, within 24 h, not in the future."""
    now = timezone.now()
    if started_at > now + CLOCK_SKEW:
        raise Invalid({"started_at": ["An entry cannot start in the future."]})
    if ended_at <= started_at:
        raise Invalid({"ended_at": ["The end must be after the start."]})
    if ended_at - started_at > MAX_SPAN:
        raise Invalid({"ended_at": ["An entry lasts at most 24 hours."]})
    if ended_at > now + CLOCK_SKEW:
        raise Invalid({"ended_at": ["An entry cannot end in the future."]})
    return int((ended_at - started_at).total_seconds() // 60)


def _record(project: Any, actor: User, verb: str, entry: TimeEntry, changes: dict[str, Any] | None = None) -> None:
    record(
        project=project,
        actor=actor,
        verb=verb,
        target_type="time_entry",
        target_id=entry.pk,
        task_id=entry.task_id,
        changes=changes,
        data=dict(TimeEntrySerializer(entry).data) if verb != "time_entry.deleted" else None,
    )


def _add_spent(task_id: Any, minutes: int) -> None:
    if minutes:
        # Never below zero, even if the sum drifted (rows written behind the services' back).
        Task.objects.filter(pk=task_id).update(spent_minutes=Greatest(F("spent_minutes") + minutes, 0))


@transaction.atomic
def time_entry_create(
    *,
    actor: User,
    task: Task,
    started_at: datetime.datetime,
    ended_at: datetime.datetime | None = None,
    minutes: int | None = None,
    note: str = "",
) -> TimeEntry:
    """A finished entry of the caller's own time."""
    project = lock_project(task.project_id)
    _check_start(started_at)
    ended_at = ended_at or started_at + datetime.timedelta(minutes=minutes or 0)
    entry = TimeEntry(task_id=task.pk, user=actor, started_at=started_at, ended_at=ended_at, note=note)
    entry.minutes = _span(started_at, ended_at)
    entry.save(force_insert=True)
    _add_spent(task.pk, entry.minutes)
    _record(project, actor, "time_entry.created", entry)
    return entry


@transaction.atomic
def time_entry_update(*, actor: User, entry_id: Any, values: dict[str, Any]) -> TimeEntry:
    project, entry = lock_project_of(TimeEntry, entry_id, via="task__project_id")
    old_minutes = entry.minutes
    old: dict[str, Any] = {
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
        "minutes": entry.minutes,
        "note": entry.note,
    }
    entry.note = values.get("note", entry.note)
    entry.started_at = values.get("started_at", entry.started_at)
    _check_start(entry.started_at, running=entry.ended_at is None)
    if entry.ended_at is None:
        if "ended_at" in values or "minutes" in values:
            raise Conflict("This timer is running: stop it first.")
    else:
        if "minutes" in values:
            entry.ended_at = entry.started_at + datetime.timedelta(minutes=values["minutes"])
        elif "ended_at" in values:
            entry.ended_at = values["ended_at"]
        entry.minutes = _span(entry.started_at, entry.ended_at)
    new = {"started_at": entry.started_at, "ended_at": entry.ended_at, "minutes": entry.minutes, "note": entry.note}
    changes = {field: [old[field], new[field]] for field in old if old[field] != new[field]}
    if not changes:
        return entry
    entry.save(update_fields=["note", "started_at", "ended_at", "minutes", "updated_at"])
    _add_spent(entry.task_id, entry.minutes - old_minutes)
    _record(project, actor, "time_entry.updated", entry, changes)
    return entry


@transaction.atomic
def time_entry_delete(*, actor: User, entry_id: Any) -> None:
    project, entry = lock_project_of(TimeEntry, entry_id, via="task__project_id")
    _add_spent(entry.task_id, -entry.minutes)
    entry_id, task_id = entry.pk, entry.task_id
    entry.delete()
    record(
        project=project,
        actor=actor,
        verb="time_entry.deleted",
        target_type="time_entry",
        target_id=entry_id,
        task_id=task_id,
    )


def _lock_timers_of(actor: User, *project_ids: Any) -> dict[Any, Any]:
    """The user's row first (one timer operation per user at a time), then the projects
    (the running timer's, read under that lock, and the given ones) in a fixed order, so
    concurrent timer operations cannot deadlock."""
    User.objects.select_for_update().filter(pk=actor.pk).first()
    running = TimeEntry.objects.filter(user=actor, ended_at__isnull=True).values_list("task__project_id", flat=True)
    return {project_id: lock_project(project_id) for project_id in sorted({*project_ids, *running}, key=str)}


def _stop(project: Any, actor: User, entry: TimeEntry) -> TimeEntry:
    now = timezone.now()
    entry.ended_at = max(min(now, entry.started_at + MAX_SPAN), entry.started_at + datetime.timedelta(seconds=1))
    entry.minutes = int((entry.ended_at - entry.started_at).total_seconds() // 60)
    entry.save(update_fields=["ended_at", "minutes", "updated_at"])
    _add_spent(entry.task_id, entry.minutes)
    _record(project, actor, "time_entry.updated", entry, {"ended_at": [None, entry.ended_at]})
    return entry


@transaction.atomic
def timer_start(*, actor: User, task: Task, note: str = "") -> TimeEntry:
    """Start the caller's timer on a task, stopping their running one first, atomically."""
    projects = _lock_timers_of(actor, task.project_id)
    current = TimeEntry.objects.select_related("task").filter(user=actor, ended_at__isnull=True).first()
    if current is not None:
        _stop(projects[current.task.project_id], actor, current)
    entry = TimeEntry(task_id=task.pk, user=actor, started_at=timezone.now(), note=note)
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
    except IntegrityError:
        raise Conflict("Another timer was started at the same moment; try again.") from None
    _record(projects[task.project_id], actor, "time_entry.created", entry)
    return entry


@transaction.atomic
def timer_stop(*, actor: User) -> TimeEntry:
    projects = _lock_timers_of(actor)
    current = TimeEntry.objects.filter(user=actor, ended_at__isnull=True).select_related("task").first()
    if current is None:
        raise NotFound("No timer is running.")
    return _stop(projects[current.task.project_id], actor, current)
