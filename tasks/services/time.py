"""Time tracking: entries and timers. Finished minutes are summed on the task as they change."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import User
from tasks import permissions, rules
from tasks.events import Verb, emit, time_entry_snapshot
from tasks.models import Project, Task, TimeEntry
from tasks.permissions import Action
from tasks.services.common import lock_project, lock_project_of
from timetodo.errors import Conflict, NotFound


def _emit(project: Project, actor: User, verb: Verb, entry: TimeEntry, changes: dict[str, Any] | None = None) -> None:
    emit(
        project=project,
        actor=actor,
        verb=verb,
        target_id=entry.pk,
        task_id=entry.task_id,
        changes=changes,
        data=time_entry_snapshot(entry),
    )


def _require_task(task: Task) -> None:
    """The task, read before the project lock, may have been deleted while waiting for it."""
    if not Task.objects.filter(pk=task.pk).exists():
        raise NotFound("Not found.")


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
    project = lock_project(task.project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.LOG_TIME)
    _require_task(task)
    now = timezone.now()
    rules.check_entry_start(started_at, now=now)
    ended_at = ended_at or started_at + datetime.timedelta(minutes=minutes or 0)
    entry = TimeEntry(task_id=task.pk, user=actor, started_at=started_at, ended_at=ended_at, note=note)
    entry.minutes = rules.entry_minutes(started_at, ended_at, now=now)
    entry.save(force_insert=True)
    _add_spent(task.pk, entry.minutes)
    _emit(project, actor, Verb.TIME_ENTRY_CREATED, entry)
    return entry


def _locked_entry(entry_id: Any, actor: User) -> tuple[Project, TimeEntry]:
    project, entry = lock_project_of(TimeEntry, entry_id, via="task__project_id", actor=actor)
    action = permissions.time_entry_action(actor=actor, entry_user_id=entry.user_id)
    permissions.recheck(project=project, actor=actor, action=action)
    return project, entry


@transaction.atomic
def time_entry_update(*, actor: User, entry_id: Any, values: dict[str, Any]) -> TimeEntry:
    project, entry = _locked_entry(entry_id, actor)
    now = timezone.now()
    old_minutes = entry.minutes
    old: dict[str, Any] = {
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
        "minutes": entry.minutes,
        "note": entry.note,
    }
    entry.note = values.get("note", entry.note)
    entry.started_at = values.get("started_at", entry.started_at)
    rules.check_entry_start(entry.started_at, now=now, running=entry.ended_at is None)
    if entry.ended_at is None:
        if "ended_at" in values or "minutes" in values:
            raise Conflict("This timer is running: stop it first.")
    else:
        if "minutes" in values:
            entry.ended_at = entry.started_at + datetime.timedelta(minutes=values["minutes"])
        elif "ended_at" in values:
            entry.ended_at = values["ended_at"]
        entry.minutes = rules.entry_minutes(entry.started_at, entry.ended_at, now=now)
    new = {"started_at": entry.started_at, "ended_at": entry.ended_at, "minutes": entry.minutes, "note": entry.note}
    changes = {field: [old[field], new[field]] for field in old if old[field] != new[field]}
    if not changes:
        return entry
    entry.save(update_fields=["note", "started_at", "ended_at", "minutes", "updated_at"])
    _add_spent(entry.task_id, entry.minutes - old_minutes)
    _emit(project, actor, Verb.TIME_ENTRY_UPDATED, entry, changes)
    return entry


@transaction.atomic
def time_entry_delete(*, actor: User, entry_id: Any) -> None:
    project, entry = _locked_entry(entry_id, actor)
    _add_spent(entry.task_id, -entry.minutes)
    entry_id, task_id = entry.pk, entry.task_id
    entry.delete()
    emit(project=project, actor=actor, verb=Verb.TIME_ENTRY_DELETED, target_id=entry_id, task_id=task_id)


def _lock_timers_of(actor: User, *project_ids: Any) -> dict[Any, Project]:
    """The user's row first (one timer operation per user at a time), then the projects
    (the running timer's, read under that lock, and the given ones) in a fixed order, so
    concurrent timer operations cannot deadlock."""
    User.objects.select_for_update().filter(pk=actor.pk).first()
    running = TimeEntry.objects.filter(user=actor, ended_at__isnull=True).values_list("task__project_id", flat=True)
    ordered = sorted({*project_ids, *running}, key=str)
    return {project_id: lock_project(project_id, actor=actor) for project_id in ordered}


def _stop(project: Project, actor: User, entry: TimeEntry) -> TimeEntry:
    """Stop a running timer; always allowed: it is the caller's own, and stopping it is
    how a removed member's time ends."""
    entry.ended_at = rules.timer_end(entry.started_at, now=timezone.now())
    entry.minutes = int((entry.ended_at - entry.started_at).total_seconds() // 60)
    entry.save(update_fields=["ended_at", "minutes", "updated_at"])
    _add_spent(entry.task_id, entry.minutes)
    _emit(project, actor, Verb.TIME_ENTRY_UPDATED, entry, {"ended_at": [None, entry.ended_at]})
    return entry


@transaction.atomic
def timer_start(*, actor: User, task: Task, note: str = "") -> TimeEntry:
    """Start the caller's timer on a task, stopping their running one first, atomically."""
    projects = _lock_timers_of(actor, task.project_id)
    permissions.recheck(project=projects[task.project_id], actor=actor, action=Action.TRACK_TIME)
    _require_task(task)
    current = TimeEntry.objects.select_related("task").filter(user=actor, ended_at__isnull=True).first()
    if current is not None:
        _stop(projects[current.task.project_id], actor, current)
    entry = TimeEntry(task_id=task.pk, user=actor, started_at=timezone.now(), note=note)
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
    except IntegrityError:
        raise Conflict("Another timer was started at the same moment; try again.") from None
    _emit(projects[task.project_id], actor, Verb.TIME_ENTRY_CREATED, entry)
    return entry


@transaction.atomic
def timer_stop(*, actor: User) -> TimeEntry:
    projects = _lock_timers_of(actor)
    current = TimeEntry.objects.filter(user=actor, ended_at__isnull=True).select_related("task").first()
    if current is None:
        raise NotFound("No timer is running.")
    return _stop(projects[current.task.project_id], actor, current)
