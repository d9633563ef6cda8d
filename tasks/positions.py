"""Where a task sits in its column: gapped integer positions, and the done flag that follows.

Positions are integers GAP apart, so a move takes the midpoint between its new neighbours
and writes one row; only when two neighbours touch is the column renumbered (every task
GAP apart again, in the same order). (column, position) is unique in the database. The
project's row lock, held by every caller, keeps concurrent moves from racing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db.models import Count, F, Max, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from tasks import rules
from tasks.models import Column, Task
from timetodo.errors import Conflict, Invalid

GAP = 1 << 16
# Renumbering first shifts a column's positions out of the way, so the unique constraint
# holds at every step; far below any real position.
SHIFT = 1 << 60


class Renumbered(NamedTuple):
    """A task that a renumbering moved: for its own `task.moved` event."""

    task_id: Any
    old: int
    new: int


def with_ends(columns: QuerySet[Column], *, moving: Any = None) -> QuerySet[Column]:
    """Columns read with their last task's position and task count (`end_position`,
    `free_slot` at the end and `check_room` then need no query of their own): for a write
    that adds or moves one task (`moving`: not counted as the last), under the project lock,
    before it does. Read again after anything else changes the column."""
    tasks = Task.objects.filter(column=OuterRef("pk")).order_by().values("column")
    others = tasks.exclude(pk=moving) if moving is not None else tasks
    return columns.annotate(
        last_position=Subquery(others.annotate(last=Max("position")).values("last")[:1]),
        holding=Coalesce(Subquery(tasks.annotate(n=Count("*")).values("n")[:1]), 0),
    )


def check_room(column: Column, incoming: int = 1) -> None:
    """409 if `incoming` more tasks would take the column past its WIP limit."""
    if column.wip_limit is not None:
        holding = getattr(column, "holding", None)
        if holding is None:
            holding = Task.objects.filter(column=column).count()
        rules.check_wip(name=column.name, wip_limit=column.wip_limit, holding=holding, incoming=incoming)


def end_position(column: Column) -> int:
    """The position after the column's last task."""
    return _after_last(column, Task.objects.filter(column=column))


def _after_last(column: Column, tasks: QuerySet[Task]) -> int:
    """GAP after the last of these tasks: as read with the column (with_ends), or now."""
    read: Any = column
    last = read.last_position if hasattr(read, "last_position") else tasks.aggregate(v=Max("position"))["v"]
    return GAP if last is None else int(last) + GAP


def following_positions(start: int, count: int) -> list[int]:
    """`count` positions GAP apart from `start`: tasks appended in order."""
    return [start + index * GAP for index in range(count)]


def midpoint(lower: int, upper: int) -> int | None:
    """A free position strictly between two neighbours, or None when they touch."""
    if upper - lower < 2:
        return None
    return (lower + upper) // 2


def free_slot(column: Column, task: Task, before: Task | None, after: Task | None) -> int | None:
    """A free position just before `before`, just after `after`, or at the column's end
    (the task's own current position does not count as taken); None when the
    neighbours touch."""
    others = Task.objects.filter(column=column).exclude(pk=task.pk)
    if before is not None:
        upper = before.position
        lower = others.filter(position__lt=upper).aggregate(v=Max("position"))["v"]
        return midpoint(upper - 2 * GAP if lower is None else int(lower), upper)
    if after is not None:
        lower = after.position
        upper = others.filter(position__gt=lower).aggregate(v=Min("position"))["v"]
        return midpoint(lower, lower + 2 * GAP if upper is None else int(upper))
    return _after_last(column, others)  # (with_ends read the last without this task)


def renumber(column: Column) -> list[Renumbered]:
    """Spread a column's tasks GAP apart again, keeping their order (two passes, so the
    unique (column, position) constraint holds at every step). A task whose position
    changes gets the next version. Returns the tasks that moved."""
    before = list(Task.objects.filter(column=column).order_by("position").values_list("pk", "position"))
    Task.objects.filter(column=column).update(position=F("position") - SHIFT)
    moved = []
    for index, (pk, old) in enumerate(before):
        new = (index + 1) * GAP
        Task.objects.filter(pk=pk).update(position=new, version=F("version") + (1 if new != old else 0))
        if new != old:
            moved.append(Renumbered(pk, old, new))
    return moved


def anchor(column: Column, task: Task, anchor_id: Any, field: str) -> Task | None:
    """The neighbour a move names (`before` or `after`): another task of the target column."""
    if anchor_id is None:
        return None
    found = Task.objects.filter(column=column, pk=anchor_id).first()
    if found is None or found.pk == task.pk:
        raise Invalid({field: ["Must be another task in the target column."]})
    return found


def already_there(task: Task, column: Column, before: Task | None, after: Task | None) -> bool:
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


def place(task: Task, column: Column, before: Task | None = None, after: Task | None = None) -> list[Renumbered]:
    """Give the task (in memory; the caller saves it) its new column and a free position
    next to its anchor. Returns the other tasks a renumbering moved."""
    renumbered: list[Renumbered] = []
    position = free_slot(column, task, before, after)
    if position is None:
        renumbered = [entry for entry in renumber(column) if entry.task_id != task.pk]
        column.__dict__.pop("last_position", None)  # (what with_ends read is gone now)
        before = before and Task.objects.get(pk=before.pk)
        after = after and Task.objects.get(pk=after.pk)
        position = free_slot(column, task, before, after)
        if position is None:  # cannot happen right after renumbering; never write a clash
            raise Conflict("Could not find a free position; try again.")
    task.column, task.position = column, position
    return renumbered


def follow_column(task: Task, column: Column) -> None:
    """`is_done` and `completed_at` follow the column's done flag (in memory)."""
    if column.is_done and not task.is_done:
        task.is_done, task.completed_at = True, timezone.now()
    elif not column.is_done:
        task.is_done, task.completed_at = False, None
