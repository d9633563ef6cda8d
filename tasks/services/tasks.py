"""Tasks: create, update (with lost-update protection), move, bulk update, delete.

Every service locks the project row first, re-checks the caller's role under it, checks
the request against the state it now holds, writes, and records one event per changed
task (`save_task_change`). A write answers with what it wrote: `TaskWritten`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import User
from tasks import permissions, positions, selectors
from tasks.events import TaskSnapshot, Verb, emit, task_snapshot
from tasks.models import Attachment, Column, Label, Project, Sprint, Task
from tasks.permissions import Action
from tasks.services.attachments import remove_files_after_commit
from tasks.services.common import lock_project, lock_project_of_task, take_numbers
from timetodo.compiled import CompiledQuery, instances
from timetodo.errors import Invalid, NotFound, StaleVersion

MAX_PARENT_DEPTH = 100


@dataclass(frozen=True)
class TaskWritten:
    """A task write's outcome: the task, and its representation after the write (what its
    event recorded, or the current one when nothing changed)."""

    task: Task
    snapshot: TaskSnapshot


# References, always resolved inside the task's own project


COLUMN_FIELDS = tuple(field.attname for field in Column._meta.concrete_fields)


def _ends(columns: QuerySet[Column], moving: Any = None) -> QuerySet[Any]:
    return positions.with_ends(columns, moving=moving).values(*COLUMN_FIELDS, "last_position", "holding")


# The column reads of every create and move (with the column's end: positions.with_ends),
# compiled once (timetodo.compiled).
_COLUMN_ENDS = CompiledQuery(
    lambda project, column: _ends(Column.objects.filter(project_id=project, pk=column)), "project", "column"
)
_COLUMN_ENDS_MOVING = CompiledQuery(
    lambda project, column, moving: _ends(Column.objects.filter(project_id=project, pk=column), moving),
    "project",
    "column",
    "moving",
)
_FIRST_COLUMN_ENDS = CompiledQuery(
    lambda project: _ends(Column.objects.filter(project_id=project).order_by("position", "created_at")),
    "project",
    paged=True,
)


def _column(project: Project, column_id: Any, *, ends: bool = False, moving: Any = None) -> Column:
    if not ends:
        found = Column.objects.filter(project=project, pk=column_id).first()
    elif moving is None:
        found = next(iter(instances(Column, _COLUMN_ENDS.rows(project=project.pk, column=column_id))), None)
    else:
        rows = _COLUMN_ENDS_MOVING.rows(project=project.pk, column=column_id, moving=moving)
        found = next(iter(instances(Column, rows)), None)
    if found is None:
        raise Invalid({"column": ["No such column in this project."]})
    return found


def _first_column(project: Project, *, ends: bool = False) -> Column:
    if ends:
        found = next(iter(instances(Column, _FIRST_COLUMN_ENDS.rows(project=project.pk, limit=1))), None)
    else:
        found = Column.objects.filter(project=project).order_by("position", "created_at").first()
    if found is None:
        raise Invalid({"column": ["This project has no columns."]})
    return found


def _assignee(project: Project, user_id: Any) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, memberships__project=project).first()
    if user is None:
        raise Invalid({"assignee": ["The assignee must be a member of the project."]})
    return user


def _labels(project: Project, label_ids: list[Any], field: str = "labels") -> list[Label]:
    wanted = set(label_ids)
    labels = list(Label.objects.filter(project=project, pk__in=wanted))
    if len(labels) != len(wanted):
        raise Invalid({field: ["Every label must belong to the project."]})
    return labels


def _check_sprint(project: Project, sprint_id: Any) -> None:
    if sprint_id is None:
        return
    status = Sprint.objects.filter(project=project, pk=sprint_id).values_list("status", flat=True).first()
    if status is None:
        raise Invalid({"sprint": ["No such sprint in this project."]})
    if status == "completed":
        raise Invalid({"sprint": ["That sprint is completed; tasks cannot join it."]})


def _check_parent(project: Project, task_id: Any, parent_id: Any) -> None:
    if parent_id is None:
        return
    if parent_id == task_id:
        raise Invalid({"parent": ["A task cannot be its own parent."]})
    current: Any = parent_id
    for _ in range(MAX_PARENT_DEPTH):
        row = Task.objects.filter(project=project, pk=current).values_list("parent_id", flat=True)
        if not row.exists():
            if current == parent_id:
                raise Invalid({"parent": ["The parent must be a task of the same project."]})
            return
        current = row.first()
        if current is None:
            return
        if current == task_id:
            raise Invalid({"parent": ["That would make a cycle of parents."]})
    raise Invalid({"parent": ["The chain of parents is too deep."]})


# Recording a change


def _verb(changes: dict[str, list[Any]]) -> Verb:
    moved = "column" in changes or "position" in changes
    return Verb.TASK_MOVED if moved and set(changes) <= {"column", "position", "is_done"} else Verb.TASK_UPDATED


def save_task_change(*, project: Project, actor: User, task: Task, changes: dict[str, list[Any]]) -> TaskSnapshot:
    """Save a changed task (in memory) with the next version and record its event, with
    the task as it now is: every task change in every service goes through here. The
    caller holds the project's row lock. Returns the snapshot the event recorded."""
    task.version += 1
    fields = {"version", "updated_at"}
    for field in changes:
        if field in ("column", "position"):
            fields |= {"column", "position", "is_done", "completed_at"}
        elif field == "is_done":
            fields |= {"is_done", "completed_at"}
        elif field != "labels":
            fields.add(field)
    task.save(update_fields=sorted(fields))
    snapshot = _snapshot_now(task)
    emit(
        project=project,
        actor=actor,
        verb=_verb(changes),
        target_id=task.pk,
        task_id=task.pk,
        changes=changes,
        data=snapshot,
    )
    return snapshot


def _snapshot_now(task: Task) -> TaskSnapshot:
    """The task as it now is: from memory when it was read prepared (selectors.prepare_tasks,
    kept current by the change), else read again."""
    prepared: Any = task
    if hasattr(prepared, "label_ids"):
        return task_snapshot(task, label_ids=prepared.label_ids, running_minutes=prepared.running_minutes)
    return selectors.task_snapshot_of(task_id=task.pk)


def _unchanged(task: Task) -> TaskWritten:
    """Nothing to write: the lock's reserved seq is given back with the (empty) transaction."""
    transaction.set_rollback(True)
    return TaskWritten(task=task, snapshot=_snapshot_now(task))


# Services


@transaction.atomic
def task_create(*, actor: User, project_id: Any, values: dict[str, Any]) -> TaskWritten:
    # The lock is the counters' UPDATE (the task's number and its event's seq, taken together).
    project = take_numbers(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.CREATE_TASKS)
    if values.get("column"):
        column = _column(project, values["column"], ends=True)
    else:
        column = _first_column(project, ends=True)
    positions.check_room(column)
    assignee = _assignee(project, values.get("assignee"))
    _check_sprint(project, values.get("sprint"))
    _check_parent(project, None, values.get("parent"))
    labels = _labels(project, values.get("labels", []))
    task = Task(
        project=project,
        number=project.task_counter,
        title=values["title"],
        description=values.get("description", ""),
        column=column,
        position=positions.end_position(column),
        priority=values.get("priority", "none"),
        assignee=assignee,
        creator=actor,
        story_points=values.get("story_points"),
        estimate_minutes=values.get("estimate_minutes"),
        due_date=values.get("due_date"),
        sprint_id=values.get("sprint"),
        parent_id=values.get("parent"),
    )
    positions.follow_column(task, column)
    task.save(force_insert=True)
    if labels:
        task.labels.set(labels)
    # Everything it shows was just written here (a new task runs no timer): no re-read.
    snapshot = task_snapshot(task, label_ids=[label.pk for label in labels], running_minutes=0)
    emit(
        project=project,
        actor=actor,
        verb=Verb.TASK_CREATED,
        target_id=task.pk,
        task_id=task.pk,
        data=snapshot,
    )
    return TaskWritten(task=task, snapshot=snapshot)


def _locked_task(task_id: Any, actor: User, action: Action) -> tuple[Project, Task]:
    """The task's project locked (its first event's seq taken with the lock), the role
    checked, then the task read with what its snapshot shows, so the write's answer and
    event are built without reading it again."""
    project = lock_project_of_task(task_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=action)
    task = selectors.task_for_write(task_id=task_id)
    if task is None:
        raise NotFound("Not found.")
    task.project = project
    return project, task


def _check_version(task: Task, if_match: int | None, version: int | None) -> None:
    """Lost-update protection: a stale copy writes nothing and is shown the current task."""
    if if_match is not None and if_match != task.version:
        raise StaleVersion(_snapshot_now(task), status_code=412)
    if version is not None and version != task.version:
        raise StaleVersion(_snapshot_now(task), status_code=409)


SIMPLE_FIELDS = ("title", "description", "priority", "story_points", "estimate_minutes", "due_date")
REFERENCE_FIELDS = {"assignee": "assignee_id", "sprint": "sprint_id", "parent": "parent_id"}


def _apply(project: Project, task: Task, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Validate and apply field values to the task (in memory); returns {field: [old, new]}."""
    changes: dict[str, list[Any]] = {}
    for field in SIMPLE_FIELDS:
        if field in values and getattr(task, field) != values[field]:
            changes[field] = [getattr(task, field), values[field]]
            setattr(task, field, values[field])
    if "assignee" in values:
        assignee = _assignee(project, values["assignee"])
    if "sprint" in values:
        _check_sprint(project, values["sprint"])
    if "parent" in values:
        _check_parent(project, task.pk, values["parent"])
    for field, attribute in REFERENCE_FIELDS.items():
        if field in values and getattr(task, attribute) != values[field]:
            changes[field] = [getattr(task, attribute), values[field]]
            setattr(task, attribute, values[field])
    if "assignee" in changes:
        task.assignee = assignee  # the person, not only the id: the snapshot shows them
    if "column" in values and values["column"] != task.column_id:
        column = _column(project, values["column"])
        positions.check_room(column)
        old_column, old_position = task.column_id, task.position
        positions.place(task, column)
        positions.follow_column(task, column)
        changes["column"] = [old_column, column.pk]
        changes["position"] = [old_position, task.position]
    return changes


def _apply_labels(project: Project, task: Task, add: list[Any], remove: list[Any], replace: list[Any] | None) -> Any:
    prepared: Any = task
    known = getattr(prepared, "label_ids", None)  # (read with the task: selectors.prepare_tasks)
    current = set(known) if known is not None else set(task.labels.values_list("pk", flat=True))
    if replace is not None:
        wanted = {label.pk for label in _labels(project, replace)}
    else:
        added = {label.pk for label in _labels(project, add, "labels_add")} if add else set()
        removed = {label.pk for label in _labels(project, remove, "labels_remove")} if remove else set()
        wanted = (current | added) - removed
    if wanted == current:
        return None
    task.labels.set(Label.objects.filter(pk__in=wanted))
    if known is not None:
        prepared.label_ids = list(wanted)
    return [sorted(str(pk) for pk in current), sorted(str(pk) for pk in wanted)]


@transaction.atomic
def task_update(
    *, actor: User, task_id: Any, values: dict[str, Any], if_match: int | None = None, version: int | None = None
) -> TaskWritten:
    """PATCH: only the fields sent change; a stale version writes nothing."""
    project, task = _locked_task(task_id, actor, Action.EDIT_TASKS)
    _check_version(task, if_match, version)
    changes = _apply(project, task, values)
    if "labels" in values:
        label_change = _apply_labels(project, task, [], [], values["labels"])
        if label_change:
            changes["labels"] = label_change
    if not changes:
        return _unchanged(task)
    snapshot = save_task_change(project=project, actor=actor, task=task, changes=changes)
    return TaskWritten(task=task, snapshot=snapshot)


@transaction.atomic
def task_move(
    *,
    actor: User,
    task_id: Any,
    column_id: Any,
    before_id: Any = None,
    after_id: Any = None,
    if_match: int | None = None,
    version: int | None = None,
) -> TaskWritten:
    """Place the task just before `before`, just after `after`, or at the column's end."""
    project, task = _locked_task(task_id, actor, Action.MOVE_TASKS)
    _check_version(task, if_match, version)
    column = _column(project, column_id, ends=True, moving=task.pk)
    before = positions.anchor(column, task, before_id, "before")
    after = positions.anchor(column, task, after_id, "after")
    if positions.already_there(task, column, before, after):
        return _unchanged(task)  # nothing changes: no write, no version bump, no event
    if column.pk != task.column_id:
        positions.check_room(column)
    old_column, old_position = task.column_id, task.position
    for neighbour in positions.place(task, column, before, after):
        emit(
            project=project,
            actor=actor,
            verb=Verb.TASK_MOVED,
            target_id=neighbour.task_id,
            task_id=neighbour.task_id,
            changes={"position": [neighbour.old, neighbour.new]},
            data=selectors.task_snapshot_of(task_id=neighbour.task_id),
        )
    positions.follow_column(task, column)
    changes: dict[str, list[Any]] = {"column": [old_column, column.pk], "position": [old_position, task.position]}
    snapshot = save_task_change(project=project, actor=actor, task=task, changes=changes)
    return TaskWritten(task=task, snapshot=snapshot)


@transaction.atomic
def task_delete(*, actor: User, task_id: Any) -> None:
    project, task = _locked_task(task_id, actor, Action.DELETE_TASKS)
    for child in Task.objects.filter(parent=task):
        child.parent, child.project = None, project
        save_task_change(project=project, actor=actor, task=child, changes={"parent": [task.pk, None]})
    remove_files_after_commit(Attachment.objects.filter(task=task))
    task.delete()
    emit(
        project=project,
        actor=actor,
        verb=Verb.TASK_DELETED,
        target_id=task_id,
        task_id=task_id,
        changes={"title": [task.title, None]},
    )


@transaction.atomic
def tasks_bulk_update(*, actor: User, tasks: list[Task], values: dict[str, Any]) -> list[Task]:
    """One change applied to many tasks of one project: all of them, or none. Returns the
    tasks that changed."""
    project_ids = {task.project_id for task in tasks}
    if len(project_ids) != 1:
        raise Invalid({"ids": ["All tasks must belong to the same project."]})
    project = lock_project(project_ids.pop(), actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.EDIT_TASKS)
    current = Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("column", "position")
    by_id = {task.pk: task for task in current}
    if len(by_id) != len(tasks):
        raise Invalid({"ids": ["Some tasks no longer exist."]})
    field_values: dict[str, Any] = {
        key: values[key] for key in ("assignee", "priority", "sprint", "column") if key in values
    }
    if "column" in field_values:
        column = _column(project, field_values["column"])
        positions.check_room(column, incoming=sum(1 for task in by_id.values() if task.column_id != column.pk))
    updated = []
    for task in by_id.values():
        task.project = project
        changes = _apply(project, task, field_values)
        label_change = _apply_labels(project, task, values.get("labels_add", []), values.get("labels_remove", []), None)
        if label_change:
            changes["labels"] = label_change
        if not changes:
            continue
        save_task_change(project=project, actor=actor, task=task, changes=changes)
        updated.append(task)
    return updated
