"""Sprints: plan, start (committing points), complete (moving open tasks on), delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Sum
from rest_framework.exceptions import ValidationError

from accounts.models import User
from tasks.models import Project, Sprint, SprintStatus, Task
from tasks.serializers import SprintSerializer, check_sprint_dates
from tasks.services.common import diff, lock_project, lock_project_of, record
from tasks.services.tasks import task_changed
from timetodo.errors import Conflict, Invalid


def _data(sprint: Sprint) -> dict[str, Any]:
    return dict(SprintSerializer(sprint).data)


def _record(project: Project, actor: User, verb: str, sprint: Sprint, changes: dict[str, Any] | None = None) -> None:
    record(
        project=project,
        actor=actor,
        verb=verb,
        target_type="sprint",
        target_id=sprint.pk,
        changes=changes,
        data=_data(sprint) if verb != "sprint.deleted" else None,
    )


def _move_tasks(project: Project, actor: User, tasks: Any, to_sprint: Sprint | None) -> None:
    for task in tasks.order_by("number"):
        old = task.sprint_id
        task.project, task.sprint = project, to_sprint
        task_changed(project=project, actor=actor, task=task, changes={"sprint": [old, task.sprint_id]})


def _points(tasks: Any) -> int:
    return int(tasks.aggregate(points=Sum("story_points"))["points"] or 0)


@transaction.atomic
def sprint_create(*, actor: User, project_id: Any, values: dict[str, Any]) -> Sprint:
    project = lock_project(project_id)
    sprint = Sprint.objects.create(project=project, **values)
    _record(project, actor, "sprint.created", sprint)
    return sprint


@transaction.atomic
def sprint_update(*, actor: User, sprint_id: Any, values: dict[str, Any]) -> Sprint:
    project, sprint = lock_project_of(Sprint, sprint_id)
    moved = {f for f in ("start_date", "end_date") if f in values and values[f] != getattr(sprint, f)}
    if moved and sprint.status != SprintStatus.PLANNED:
        raise Conflict("A started sprint keeps its dates (its burndown and velocity depend on them).")
    try:
        check_sprint_dates(values.get("start_date", sprint.start_date), values.get("end_date", sprint.end_date))
    except ValidationError as exc:
        raise Invalid(dict(exc.detail) if isinstance(exc.detail, dict) else str(exc.detail)) from None
    changes = diff(sprint, values)
    if not changes:
        return sprint
    for field, (_, new) in changes.items():
        setattr(sprint, field, new)
    sprint.save(update_fields=list(changes))
    _record(project, actor, "sprint.updated", sprint, changes)
    return sprint


@transaction.atomic
def sprint_delete(*, actor: User, sprint_id: Any) -> None:
    """Its tasks go back to the backlog (no sprint), each with its own event."""
    project, sprint = lock_project_of(Sprint, sprint_id)
    _move_tasks(project, actor, Task.objects.filter(sprint=sprint), None)
    sprint.delete()
    record(project=project, actor=actor, verb="sprint.deleted", target_type="sprint", target_id=sprint_id)


@transaction.atomic
def sprint_start(*, actor: User, sprint_id: Any) -> Sprint:
    project, sprint = lock_project_of(Sprint, sprint_id)
    if sprint.status != SprintStatus.PLANNED:
        raise Conflict(f"Only a planned sprint can start; this one is {sprint.status}.")
    if Sprint.objects.filter(project=project, status=SprintStatus.ACTIVE).exists():
        raise Conflict("The project already has an active sprint: complete it first.")
    if sprint.start_date is None or sprint.end_date is None:
        raise Invalid({"start_date": ["Set the sprint's start and end dates before starting it."]})
    sprint.status = SprintStatus.ACTIVE
    sprint.committed_points = _points(Task.objects.filter(sprint=sprint))
    sprint.save(update_fields=["status", "committed_points"])
    changes = {
        "status": [SprintStatus.PLANNED, SprintStatus.ACTIVE],
        "committed_points": [None, sprint.committed_points],
    }
    _record(project, actor, "sprint.started", sprint, changes)
    return sprint


@transaction.atomic
def sprint_complete(*, actor: User, sprint_id: Any, move_open_tasks_to: Any = None) -> Sprint:
    """Record the completed points; open tasks move to another sprint or the backlog."""
    project, sprint = lock_project_of(Sprint, sprint_id)
    if sprint.status != SprintStatus.ACTIVE:
        raise Conflict(f"Only the active sprint can be completed; this one is {sprint.status}.")
    target = None
    if move_open_tasks_to is not None:
        target = (
            Sprint.objects.filter(project=project, pk=move_open_tasks_to)
            .exclude(pk=sprint.pk)
            .exclude(status=SprintStatus.COMPLETED)
            .first()
        )
        if target is None:
            raise Invalid({"move_open_tasks_to": ["Must be another planned or active sprint of this project."]})
    tasks = Task.objects.filter(sprint=sprint)
    sprint.completed_points = _points(tasks.filter(is_done=True))
    sprint.status = SprintStatus.COMPLETED
    sprint.save(update_fields=["status", "completed_points"])
    changes = {
        "status": [SprintStatus.ACTIVE, SprintStatus.COMPLETED],
        "completed_points": [None, sprint.completed_points],
    }
    # The completion comes first in the log: the burndown stops there, before the moves.
    _record(project, actor, "sprint.completed", sprint, changes)
    _move_tasks(project, actor, tasks.filter(is_done=False), target)
    return sprint
