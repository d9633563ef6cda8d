"""Columns and labels of a project's board."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from accounts.models import User
from tasks import permissions, positions, rules
from tasks.events import Verb, column_snapshot, emit, label_snapshot
from tasks.models import Column, Label, Task
from tasks.permissions import Action
from tasks.services.common import diff, lock_project
from tasks.services.tasks import save_task_change
from timetodo.errors import Conflict, Invalid, NotFound


def _reorder(actor: User, project: Any, column: Column | None, index: int | None) -> None:
    """Put `column` at `index` (the end when None) and number every column 0..n-1; each
    other column that shifts gets a `column.updated` event. The caller saves `column`."""
    others = Column.objects.filter(project=project).order_by("position", "created_at")
    ordered: list[Column] = list(others.exclude(pk=column.pk) if column is not None else others)
    if column is not None:
        ordered.insert(len(ordered) if index is None else min(index, len(ordered)), column)
    for position, item in enumerate(ordered):
        if item is column:
            item.position = position
        elif item.position != position:
            old, item.position = item.position, position
            Column.objects.filter(pk=item.pk).update(position=position)
            emit(
                project=project,
                actor=actor,
                verb=Verb.COLUMN_UPDATED,
                target_id=item.pk,
                changes={"position": [old, position]},
                data=column_snapshot(item),
            )


@transaction.atomic
def column_create(*, actor: User, project_id: Any, values: dict[str, Any]) -> Column:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_COLUMNS)
    column = Column(
        project=project,
        name=values["name"],
        wip_limit=values.get("wip_limit"),
        is_done=values.get("is_done", False),
    )
    _reorder(actor, project, column, values.get("position"))  # shifted columns first, then the new one
    column.save(force_insert=True)
    emit(project=project, actor=actor, verb=Verb.COLUMN_CREATED, target_id=column.pk, data=column_snapshot(column))
    return column


def _get_column(project_id: Any, column_id: Any) -> Column:
    column = Column.objects.filter(project_id=project_id, pk=column_id).first()
    if column is None:
        raise NotFound("Not found.")
    return column


@transaction.atomic
def column_update(*, actor: User, project_id: Any, column_id: Any, values: dict[str, Any]) -> Column:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_COLUMNS)
    column = _get_column(project.pk, column_id)
    old_position = column.position
    if values.get("wip_limit") is not None:
        holding = Task.objects.filter(column=column).count()
        rules.check_wip_limit_fits(wip_limit=values["wip_limit"], holding=holding)
    changes = diff(column, {k: v for k, v in values.items() if k in ("name", "wip_limit", "is_done")})
    for field, (_, new) in changes.items():
        setattr(column, field, new)
    if "position" in values:
        _reorder(actor, project, column, values["position"])
        if column.position != old_position:
            changes["position"] = [old_position, column.position]
    if not changes:
        return column
    column.save(update_fields=["name", "wip_limit", "is_done", "position"])
    emit(
        project=project,
        actor=actor,
        verb=Verb.COLUMN_UPDATED,
        target_id=column.pk,
        changes=changes,
        data=column_snapshot(column),
    )
    if "is_done" in changes:
        _tasks_follow(actor, project, column)
    return column


def _tasks_follow(actor: User, project: Any, column: Column) -> None:
    """A column's done flag changed: its tasks follow, each with its own event."""
    for task in Task.objects.filter(column=column).order_by("position"):
        before = (task.is_done, task.completed_at)
        positions.follow_column(task, column)
        if (task.is_done, task.completed_at) == before:
            continue
        task.project = project
        save_task_change(project=project, actor=actor, task=task, changes={"is_done": [before[0], task.is_done]})


@transaction.atomic
def column_delete(*, actor: User, project_id: Any, column_id: Any, move_to: Any = None) -> None:
    """409 while the column holds tasks, unless they move to `move_to` (in order, at its end)."""
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_COLUMNS)
    column = _get_column(project.pk, column_id)
    if Column.objects.filter(project=project).count() == 1:
        raise Conflict("A project needs at least one column.")
    tasks = list(Task.objects.filter(column=column).order_by("position"))
    if tasks and move_to is None:
        raise Conflict(f"The column holds {len(tasks)} task(s): move them first or pass ?move_to=<column id>.")
    if tasks:
        target = Column.objects.filter(project=project, pk=move_to).exclude(pk=column.pk).first()
        if target is None:
            raise Invalid({"move_to": ["Must be another column of this project."]})
        positions.check_room(target, incoming=len(tasks))
        new_positions = positions.following_positions(positions.end_position(target), len(tasks))
        for task, position in zip(tasks, new_positions, strict=True):
            old = (task.column_id, task.position)
            task.project, task.column, task.position = project, target, position
            positions.follow_column(task, target)
            changes: dict[str, list[Any]] = {"column": [old[0], target.pk], "position": [old[1], task.position]}
            save_task_change(project=project, actor=actor, task=task, changes=changes)
    column.delete()
    emit(project=project, actor=actor, verb=Verb.COLUMN_DELETED, target_id=column_id)
    _reorder(actor, project, None, None)  # close the gap, with an event per shifted column


def _label_name_taken(project_id: Any, name: str, exclude: Any = None) -> bool:
    labels = Label.objects.annotate(lower=Lower("name")).filter(project_id=project_id, lower=name.lower())
    if exclude is not None:
        labels = labels.exclude(pk=exclude)
    return labels.exists()


@transaction.atomic
def label_create(*, actor: User, project_id: Any, name: str, color: str) -> Label:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_LABELS)
    if _label_name_taken(project.pk, name):
        raise Invalid({"name": ["The project already has a label with this name."]})
    label = Label.objects.create(project=project, name=name, color=color.lower())
    emit(project=project, actor=actor, verb=Verb.LABEL_CREATED, target_id=label.pk, data=label_snapshot(label))
    return label


@transaction.atomic
def label_update(*, actor: User, project_id: Any, label_id: Any, values: dict[str, Any]) -> Label:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_LABELS)
    label = Label.objects.filter(project=project, pk=label_id).first()
    if label is None:
        raise NotFound("Not found.")
    if "color" in values:
        values = {**values, "color": values["color"].lower()}
    if "name" in values and _label_name_taken(project.pk, values["name"], exclude=label.pk):
        raise Invalid({"name": ["The project already has a label with this name."]})
    changes = diff(label, values)
    if not changes:
        return label
    for field, (_, new) in changes.items():
        setattr(label, field, new)
    try:
        with transaction.atomic():
            label.save(update_fields=list(changes))
    except IntegrityError:
        raise Invalid({"name": ["The project already has a label with this name."]}) from None
    emit(
        project=project,
        actor=actor,
        verb=Verb.LABEL_UPDATED,
        target_id=label.pk,
        changes=changes,
        data=label_snapshot(label),
    )
    return label


@transaction.atomic
def label_delete(*, actor: User, project_id: Any, label_id: Any) -> None:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.MANAGE_LABELS)
    label = Label.objects.filter(project=project, pk=label_id).first()
    if label is None:
        raise NotFound("Not found.")
    # Tasks lose the label: each change is a task update like any other (version, event).
    for task in Task.objects.filter(labels=label).order_by("number"):
        task.project = project
        remaining = sorted(str(pk) for pk in task.labels.exclude(pk=label.pk).values_list("pk", flat=True))
        task.labels.remove(label)
        changes = {"labels": [sorted([*remaining, str(label.pk)]), remaining]}
        save_task_change(project=project, actor=actor, task=task, changes=changes)
    label.delete()
    emit(
        project=project, actor=actor, verb=Verb.LABEL_DELETED, target_id=label_id, changes={"name": [label.name, None]}
    )
