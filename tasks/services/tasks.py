"""Tasks: create, update (with lost-update protection), move, bulk update, delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from accounts.models import User
from tasks.models import Column, Label, Membership, Project, Sprint, Task
from tasks.selectors import task_for_display
from tasks.serializers import TaskSerializer
from tasks.services.common import lock_project, lock_project_of, record
from timetodo.errors import Conflict, Invalid

# Gapped ordering keys: a move takes the midpoint between its neighbours (one row written);
# only when two neighbours touch is the column renumbered.
GAP = 1 << 16
SHIFT = 1 << 60
MAX_PARENT_DEPTH = 100


class StaleVersion(Exception):
    """The client's copy is out of date: 412 (If-Match) or 409 (body `version`)."""

    def __init__(self, task: Task, status_code: int) -> None:
        super().__init__(f"task {task.pk} is at version {task.version}")
        self.task = task
        self.status_code = status_code


def task_data(task: Task) -> dict[str, Any]:
    """The task as the REST API shows it, read fresh (for events). Kept on the task as
    `shown`: the answer to the request that made the change is this same representation."""
    task.shown = dict(TaskSerializer(task_for_display(task_id=task.pk)).data)
    return task.shown


# References, always resolved inside the task's own project


def _column(project: Project, column_id: Any) -> Column:
    column = Column.objects.filter(project=project, pk=column_id).first()
    if column is None:
        raise Invalid({"column": ["No such column in this project."]})
    return column


def _first_column(project: Project) -> Column:
    column = Column.objects.filter(project=project).order_by("position", "created_at").first()
    if column is None:
        raise Invalid({"column": ["This project has no columns."]})
    return column


def _check_assignee(project: Project, user_id: Any) -> None:
    if user_id is not None and not Membership.objects.filter(project=project, user_id=user_id).exists():
        raise Invalid({"assignee": ["The assignee must be a member of the project."]})


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


def _check_wip(column: Column, incoming: int = 1) -> None:
    if column.wip_limit is not None and Task.objects.filter(column=column).count() + incoming > column.wip_limit:
        raise Conflict(f"Column '{column.name}' is at its WIP limit of {column.wip_limit}.")


def _follow_column(task: Task, column: Column) -> None:
    """`is_done` and `completed_at` follow the column's done flag."""
    if column.is_done and not task.is_done:
        task.is_done, task.completed_at = True, timezone.now()
    elif not column.is_done:
        task.is_done, task.completed_at = False, None


# Positions


def _end_position(column: Column) -> int:
    last = Task.objects.filter(column=column).aggregate(last=Max("position"))["last"]
    return GAP if last is None else int(last) + GAP


def _renumber(column: Column) -> list[tuple[Any, int, int]]:
    """Spread a column's tasks GAP apart again, keeping their order (two passes, so the
    unique (column, position) constraint holds at every step). Returns (id, old, new) of
    every task whose position changed, for the activity log."""
    before = list(Task.objects.filter(column=column).order_by("position").values_list("pk", "position"))
    Task.objects.filter(column=column).update(position=F("position") - SHIFT)
    moved = []
    for index, (pk, old) in enumerate(before):
        new = (index + 1) * GAP
        Task.objects.filter(pk=pk).update(position=new, version=F("version") + (1 if new != old else 0))
        if new != old:
            moved.append((pk, old, new))
    return moved


def _slot(column: Column, task: Task, before: Task | None, after: Task | None) -> int | None:
    """A free position between the neighbours, or None when they touch."""
    others = Task.objects.filter(column=column).exclude(pk=task.pk)
    if before is not None:
        upper = before.position
        lower = others.filter(position__lt=upper).aggregate(v=Max("position"))["v"]
        lower = upper - 2 * GAP if lower is None else lower
    elif after is not None:
        lower = after.position
        upper = others.filter(position__gt=lower).aggregate(v=Min("position"))["v"]
        upper = lower + 2 * GAP if upper is None else upper
    else:
        last = others.aggregate(v=Max("position"))["v"]
        return GAP if last is None else int(last) + GAP
    if upper - lower < 2:
        return None
    return int((lower + upper) // 2)


def _anchor(column: Column, task: Task, anchor_id: Any, field: str) -> Task | None:
    if anchor_id is None:
        return None
    anchor = Task.objects.filter(column=column, pk=anchor_id).first()
    if anchor is None or anchor.pk == task.pk:
        raise Invalid({field: ["Must be another task in the target column."]})
    return anchor


def _already_there(task: Task, column: Column, before: Task | None, after: Task | None) -> bool:
    """Would the move leave the task between the same neighbours? Then it is a no-op."""
    if task.column_id != column.pk:
        return False
    siblings = Task.objects.filter(column=column).exclude(pk=task.pk)
    previous = siblings.filter(position__lt=task.position).order_by("-position").values_list("pk", flat=True).first()
    following = siblings.filter(position__gt=task.position).order_by("position").values_list("pk", flat=True).first()
    if before is not None:
        return following == before.pk
    if after is not None:
        return previous == after.pk
    return following is None


def _place(task: Task, column: Column, before_id: Any = None, after_id: Any = None) -> list[tuple[Any, int, int]]:
    """Give the task its new column and position. Returns the other tasks a renumbering
    moved, as (id, old position, new position)."""
    before = _anchor(column, task, before_id, "before")
    after = _anchor(column, task, after_id, "after")
    renumbered: list[tuple[Any, int, int]] = []
    position = _slot(column, task, before, after)
    if position is None:
        renumbered = [entry for entry in _renumber(column) if entry[0] != task.pk]
        before = before and Task.objects.get(pk=before.pk)
        after = after and Task.objects.get(pk=after.pk)
        position = _slot(column, task, before, after)
        if position is None:  # cannot happen right after renumbering; never write a clash
            raise Conflict("Could not find a free position; try again.")
    task.column, task.position = column, position
    return renumbered


# Services


@transaction.atomic
def task_create(*, actor: User, project_id: Any, values: dict[str, Any]) -> Task:
    project = lock_project(project_id)
    column = _column(project, values["column"]) if values.get("column") else _first_column(project)
    _check_wip(column)
    _check_assignee(project, values.get("assignee"))
    _check_sprint(project, values.get("sprint"))
    _check_parent(project, None, values.get("parent"))
    labels = _labels(project, values.get("labels", []))
    Project.objects.filter(pk=project.pk).update(task_counter=F("task_counter") + 1)
    project.task_counter += 1
    task = Task(
        project=project,
        number=project.task_counter,
        title=values["title"],
        description=values.get("description", ""),
        column=column,
        position=_end_position(column),
        priority=values.get("priority", "none"),
        assignee_id=values.get("assignee"),
        creator=actor,
        story_points=values.get("story_points"),
        estimate_minutes=values.get("estimate_minutes"),
        due_date=values.get("due_date"),
        sprint_id=values.get("sprint"),
        parent_id=values.get("parent"),
    )
    _follow_column(task, column)
    task.save(force_insert=True)
    if labels:
        task.labels.set(labels)
    data = task_data(task)
    record(
        project=project,
        actor=actor,
        verb="task.created",
        target_type="task",
        target_id=task.pk,
        task_id=task.pk,
        data=data,
    )
    return task


def _locked_task(task_id: Any) -> tuple[Project, Task]:
    project, task = lock_project_of(Task, task_id)
    task.project = project
    return project, task


def _check_version(task: Task, if_match: int | None, version: int | None) -> None:
    if if_match is not None and if_match != task.version:
        raise StaleVersion(task, 412)
    if version is not None and version != task.version:
        raise StaleVersion(task, 409)


SIMPLE_FIELDS = ("title", "description", "priority", "story_points", "estimate_minutes", "due_date")
REFERENCE_FIELDS = {"assignee": "assignee_id", "sprint": "sprint_id", "parent": "parent_id"}


def _apply(project: Project, task: Task, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Validate and apply field values to the task; returns {field: [old, new]}."""
    changes: dict[str, list[Any]] = {}
    for field in SIMPLE_FIELDS:
        if field in values and getattr(task, field) != values[field]:
            changes[field] = [getattr(task, field), values[field]]
            setattr(task, field, values[field])
    if "assignee" in values:
        _check_assignee(project, values["assignee"])
    if "sprint" in values:
        _check_sprint(project, values["sprint"])
    if "parent" in values:
        _check_parent(project, task.pk, values["parent"])
    for field, attribute in REFERENCE_FIELDS.items():
        if field in values and getattr(task, attribute) != values[field]:
            changes[field] = [getattr(task, attribute), values[field]]
            setattr(task, attribute, values[field])
    if "column" in values and values["column"] != task.column_id:
        column = _column(project, values["column"])
        _check_wip(column)
        old_column, old_position = task.column_id, task.position
        _place(task, column)
        _follow_column(task, column)
        changes["column"] = [old_column, column.pk]
        changes["position"] = [old_position, task.position]
    return changes


def _apply_labels(project: Project, task: Task, add: list[Any], remove: list[Any], replace: list[Any] | None) -> Any:
    current = set(task.labels.values_list("pk", flat=True))
    if replace is not None:
        wanted = {label.pk for label in _labels(project, replace)}
    else:
        added = {label.pk for label in _labels(project, add, "labels_add")} if add else set()
        removed = {label.pk for label in _labels(project, remove, "labels_remove")} if remove else set()
        wanted = (current | added) - removed
    if wanted == current:
        return None
    task.labels.set(Label.objects.filter(pk__in=wanted))
    return [sorted(str(pk) for pk in current), sorted(str(pk) for pk in wanted)]


def _verb(changes: dict[str, list[Any]]) -> str:
    moved = "column" in changes or "position" in changes
    return "task.moved" if moved and set(changes) <= {"column", "position", "is_done"} else "task.updated"


def task_changed(*, project: Project, actor: User, task: Task, changes: dict[str, list[Any]]) -> None:
    """Save a changed task with the next version and record its event: every task change
    in every service goes through here. The project row is locked by the caller."""
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
    record(
        project=project,
        actor=actor,
        verb=_verb(changes),
        target_type="task",
        target_id=task.pk,
        task_id=task.pk,
        changes=changes,
        data=task_data(task),
    )


@transaction.atomic
def task_update(
    *, actor: User, task_id: Any, values: dict[str, Any], if_match: int | None = None, version: int | None = None
) -> Task:
    """PATCH: only the fields sent change; a stale version writes nothing."""
    project, task = _locked_task(task_id)
    _check_version(task, if_match, version)
    changes = _apply(project, task, values)
    if "labels" in values:
        label_change = _apply_labels(project, task, [], [], values["labels"])
        if label_change:
            changes["labels"] = label_change
    if not changes:
        return task
    task_changed(project=project, actor=actor, task=task, changes=changes)
    return task


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
) -> Task:
    """Place the task just before `before`, just after `after`, or at the column's end."""
    project, task = _locked_task(task_id)
    _check_version(task, if_match, version)
    column = _column(project, column_id)
    before = _anchor(column, task, before_id, "before")
    after = _anchor(column, task, after_id, "after")
    if _already_there(task, column, before, after):
        return task  # nothing changes: no write, no version bump, no event
    if column.pk != task.column_id:
        _check_wip(column)
    old_column, old_position = task.column_id, task.position
    renumbered = _place(task, column, before_id, after_id)
    for pk, old, new in renumbered:
        neighbour = Task.objects.get(pk=pk)
        neighbour.project = project
        record(
            project=project,
            actor=actor,
            verb="task.moved",
            target_type="task",
            target_id=pk,
            task_id=pk,
            changes={"position": [old, new]},
            data=task_data(neighbour),
        )
    _follow_column(task, column)
    changes: dict[str, list[Any]] = {"column": [old_column, column.pk], "position": [old_position, task.position]}
    task_changed(project=project, actor=actor, task=task, changes=changes)
    return task


@transaction.atomic
def task_delete(*, actor: User, task_id: Any) -> None:
    project, task = _locked_task(task_id)
    for child in Task.objects.filter(parent=task):
        child.parent, child.project = None, project
        task_changed(project=project, actor=actor, task=child, changes={"parent": [task.pk, None]})
    task.delete()
    record(
        project=project,
        actor=actor,
        verb="task.deleted",
        target_type="task",
        target_id=task_id,
        task_id=task_id,
        changes={"title": [task.title, None]},
    )


@transaction.atomic
def tasks_bulk_update(*, actor: User, tasks: list[Task], values: dict[str, Any]) -> list[Task]:
    """One change applied to many tasks of one project: all of them, or none."""
    project_ids = {task.project_id for task in tasks}
    if len(project_ids) != 1:
        raise Invalid({"ids": ["All tasks must belong to the same project."]})
    project = lock_project(project_ids.pop())
    fresh = {task.pk: task for task in Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("column", "position")}
    if len(fresh) != len(tasks):
        raise Invalid({"ids": ["Some tasks no longer exist."]})
    field_values: dict[str, Any] = {
        key: values[key] for key in ("assignee", "priority", "sprint", "column") if key in values
    }
    if "column" in field_values:
        column = _column(project, field_values["column"])
        incoming = sum(1 for task in fresh.values() if task.column_id != column.pk)
        _check_wip(column, incoming)
    updated = []
    for task in fresh.values():
        task.project = project
        changes = _apply(project, task, field_values)
        label_change = _apply_labels(project, task, values.get("labels_add", []), values.get("labels_remove", []), None)
        if label_change:
            changes["labels"] = label_change
        if not changes:
            continue
        task_changed(project=project, actor=actor, task=task, changes=changes)
        updated.append(task)
    return updated
