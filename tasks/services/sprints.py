"""Sprints: plan, start (committing points), complete (moving open tasks on), delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum

from accounts.models import User
from tasks import permissions, rules
from tasks.events import Verb, emit, sprint_snapshot
from tasks.models import Project, Sprint, SprintStatus, Task
from tasks.permissions import Action
from tasks.services.common import diff, lock_project, lock_project_of
from tasks.services.tasks import save_task_change
from timetodo.errors import Invalid


def _emit(project: Project, actor: User, verb: Verb, sprint: Sprint, changes: dict[str, Any] | None = None) -> None:
    emit(project=project, actor=actor, verb=verb, target_id=sprint.pk, changes=changes, data=sprint_snapshot(sprint))


def _locked_sprint(sprint_id: Any, actor: User) -> tuple[Project, Sprint]:
    project, sprint = lock_project_of(Sprint, sprint_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_SPRINTS)
    return project, sprint


def _move_tasks(project: Project, actor: User, tasks: QuerySet[Task], to_sprint: Sprint | None) -> None:
    for task in tasks.order_by("number"):
        old = task.sprint_id
        task.project, task.sprint = project, to_sprint
        save_task_change(project=project, actor=actor, task=task, changes={"sprint": [old, task.sprint_id]})


def _points(tasks: QuerySet[Task]) -> int:
    return int(tasks.aggregate(points=Sum("story_points"))["points"] or 0)


@transaction.atomic
def sprint_create(*, actor: User, project_id: Any, values: dict[str, Any]) -> Sprint:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_SPRINTS)
    rules.check_sprint_dates(values.get("start_date"), values.get("end_date"))
    sprint = Sprint.objects.create(project=project, **values)
    _emit(project, actor, Verb.SPRINT_CREATED, sprint)
    return sprint


@transaction.atomic
def sprint_update(*, actor: User, sprint_id: Any, values: dict[str, Any]) -> Sprint:
    project, sprint = _locked_sprint(sprint_id, actor)
    moving = any(f in values and values[f] != getattr(sprint, f) for f in ("start_date", "end_date"))
    rules.check_sprint_dates_movable(status=sprint.status, moving=moving)
    rules.check_sprint_dates(values.get("start_date", sprint.start_date), values.get("end_date", sprint.end_date))
    changes = diff(sprint, values)
    if not changes:
        return sprint
    for field, (_, new) in changes.items():
        setattr(sprint, field, new)
    sprint.save(update_fields=list(changes))
    _emit(project, actor, Verb.SPRINT_UPDATED, sprint, changes)
    return sprint


@transaction.atomic
def sprint_delete(*, actor: User, sprint_id: Any) -> None:
    """Its tasks go back to the backlog (no sprint), each with its own event."""
    project, sprint = _locked_sprint(sprint_id, actor)
    _move_tasks(project, actor, Task.objects.filter(sprint=sprint), None)
    sprint.delete()
    emit(project=project, actor=actor, verb=Verb.SPRINT_DELETED, target_id=sprint_id)


@transaction.atomic
def sprint_start(*, actor: User, sprint_id: Any) -> Sprint:
    project, sprint = _locked_sprint(sprint_id, actor)
    rules.check_sprint_may_start(
        status=sprint.status,
        another_active=Sprint.objects.filter(project=project, status=SprintStatus.ACTIVE).exists(),
        dated=sprint.start_date is not None and sprint.end_date is not None,
    )
    sprint.status = SprintStatus.ACTIVE
    sprint.committed_points = _points(Task.objects.filter(sprint=sprint))
    sprint.save(update_fields=["status", "committed_points"])
    changes = {
        "status": [SprintStatus.PLANNED, SprintStatus.ACTIVE],
        "committed_points": [None, sprint.committed_points],
    }
    _emit(project, actor, Verb.SPRINT_STARTED, sprint, changes)
    return sprint


@transaction.atomic
def sprint_complete(*, actor: User, sprint_id: Any, move_open_tasks_to: Any = None) -> Sprint:
    """Record the completed points; open tasks move to another sprint or the backlog."""
    project, sprint = _locked_sprint(sprint_id, actor)
    rules.check_sprint_may_complete(status=sprint.status)
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
    _emit(project, actor, Verb.SPRINT_COMPLETED, sprint, changes)
    _move_tasks(project, actor, tasks.filter(is_done=False), target)
    return sprint
