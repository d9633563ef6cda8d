"""Every read of the domain, already scoped to what the user may see."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db.models import Case, F, IntegerField, Model, QuerySet, Value, When
from django.utils import timezone

from accounts.models import User
from tasks.events import Target, TaskSnapshot, Verb, task_snapshot
from tasks.filters import ProjectFilter, TaskFilter, TimeEntryFilter
from tasks.filters import apply as apply_filters
from tasks.models import (
    PRIORITY_RANK,
    Activity,
    Column,
    Comment,
    Label,
    Membership,
    Project,
    Sprint,
    SprintStatus,
    Task,
    TimeEntry,
)
from tasks.rules import elapsed_minutes
from timetodo.errors import NotFound

M = TypeVar("M", bound=Model)


def projects_for_user(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Project]:
    """The user's projects, each with `my_role` (the user's role in it), by name."""
    projects = Project.objects.filter(memberships__user=user).annotate(my_role=F("memberships__role"))
    return apply_filters(ProjectFilter, projects, filters, user=user).order_by("name", "id")


# Where each kind of object finds its project's memberships.
PROJECT_PATHS: dict[type[Model], str] = {
    Project: "",
    Task: "project__",
    Sprint: "project__",
    Comment: "task__project__",
    TimeEntry: "task__project__",
}


def with_role(*, user: User, queryset: QuerySet[M], pk: Any) -> tuple[M, str]:
    """One object of a project the user is a member of, and the user's role there, in one
    query. NotFound, never Forbidden, for anyone else or an id that is not one: a
    project's contents do not leak to outsiders. The one resolver every endpoint uses."""
    memberships = f"{PROJECT_PATHS[queryset.model]}memberships"
    found = (
        queryset.filter(pk=uuid_or_404(pk), **{f"{memberships}__user": user})
        .annotate(caller_role=F(f"{memberships}__role"))
        .first()
    )
    if found is None:
        raise NotFound("Not found.")
    return found, found.caller_role  # type: ignore[attr-defined]


def members_of(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("joined_at", "id")


def columns_of(*, project: Project) -> QuerySet[Column]:
    return Column.objects.filter(project=project).order_by("position", "created_at")


def labels_of(*, project: Project) -> QuerySet[Label]:
    return Label.objects.filter(project=project).order_by("name")


def sprints_of(*, project: Project) -> QuerySet[Sprint]:
    return Sprint.objects.filter(project=project)


def priority_rank() -> Case:
    return Case(
        *[When(priority=priority, then=Value(rank)) for priority, rank in PRIORITY_RANK.items()],
        output_field=IntegerField(),
    )


# Exactly what TaskSerializer reads: every task column, the project's key, the assignee's
# summary. Boards read a thousand rows; the rest of the project and user rows is dead weight.
TASK_COLUMNS = [field.attname for field in Task._meta.concrete_fields]
TASK_RELATED_COLUMNS = ["project__key", "assignee__username", "assignee__full_name"]


def _task_queryset(*, with_project: bool = True) -> QuerySet[Task]:
    related = ["project", "assignee"] if with_project else ["assignee"]
    columns = TASK_COLUMNS + [c for c in TASK_RELATED_COLUMNS if with_project or not c.startswith("project__")]
    return Task.objects.select_related(*related).only(*columns)


def prepare_tasks(tasks: Iterable[Task]) -> list[Task]:
    """Attach what TaskSerializer shows beyond the task row, in two queries for any number
    of tasks: `label_ids` (from the link table: cheaper than prefetching Label objects,
    which boards would do a thousand at a time) and `running_minutes` (timers running on
    the task now; finished entries are already summed in `spent_minutes`)."""
    tasks = list(tasks)
    by_task: dict[Any, list[Any]] = {task.pk: [] for task in tasks}
    running: dict[Any, int] = {}
    if by_task:
        links = Task.labels.through.objects.filter(task_id__in=list(by_task)).values_list("task_id", "label_id")
        for task_id, label_id in links:
            by_task[task_id].append(label_id)
        now = timezone.now()
        timers = TimeEntry.objects.filter(task_id__in=list(by_task), ended_at__isnull=True)
        for task_id, started_at in timers.values_list("task_id", "started_at"):
            running[task_id] = running.get(task_id, 0) + elapsed_minutes(started_at, now)
    for task in tasks:
        task.label_ids = by_task[task.pk]  # type: ignore[attr-defined]
        task.running_minutes = running.get(task.pk, 0)  # type: ignore[attr-defined]
    return tasks


def tasks_for_user(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Task]:
    """Tasks in every project the user is a member of, ready for TaskSerializer (after
    `prepare_tasks`), each with `caller_role`, filtered by `filters`
    (tasks.filters.TaskFilter). Pages come straight off the (project, number) unique
    index unless an ordering is asked for."""
    tasks = (
        _task_queryset()
        .filter(project__memberships__user=user)
        .annotate(priority_rank=priority_rank(), caller_role=F("project__memberships__role"))
        .order_by("project_id", "number")
    )
    return apply_filters(TaskFilter, tasks, filters, user=user)


def tasks_shown() -> QuerySet[Task]:
    """Tasks with exactly the columns their snapshot reads (then `prepare_tasks`)."""
    return _task_queryset()


def task_snapshot_of(*, task_id: Any) -> TaskSnapshot:
    """The task as its events and the REST API show it, read now."""
    return task_snapshot_for(task=_task_queryset().get(pk=task_id))


def task_snapshot_for(*, task: Task) -> TaskSnapshot:
    """The snapshot of a task read by `tasks_shown()` (two more queries: labels, timers)."""
    prepared: Any = prepare_tasks([task])[0]
    return task_snapshot(task, label_ids=prepared.label_ids, running_minutes=prepared.running_minutes)


def board(*, project: Project) -> list[Column]:
    """Every column with its tasks in order: three queries whatever the number of tasks."""
    columns = list(columns_of(project=project))
    tasks = prepare_tasks(_task_queryset(with_project=False).filter(project=project).order_by("column_id", "position"))
    by_column: dict[Any, list[Task]] = {column.pk: [] for column in columns}
    for task in tasks:
        task.project = project  # already loaded; saves a join per row
        by_column.setdefault(task.column_id, []).append(task)
    for column in columns:
        column.board_tasks = by_column[column.pk]  # type: ignore[attr-defined]
    return columns


def comments_of(*, task: Task) -> QuerySet[Comment]:
    return Comment.objects.filter(task=task).select_related("author").order_by("created_at", "id")


def activity_of_project(*, project: Project, since: int | None = None) -> QuerySet[Activity]:
    events = Activity.objects.filter(project=project).select_related("actor")
    if since is not None:
        return events.filter(seq__gt=since).order_by("seq")
    return events.order_by("-seq")


def activity_of_task(*, task: Task) -> QuerySet[Activity]:
    return Activity.objects.filter(project_id=task.project_id, task_id=task.pk).select_related("actor").order_by("-seq")


def uuid_or_404(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("Not found.") from None


# Live sockets (realtime reads through these)


def socket_may_follow(*, user_id: Any, project_id: Any) -> bool:
    """An active user who is a member: the one condition for receiving a project's events."""
    return Membership.objects.filter(user_id=user_id, project_id=project_id, user__is_active=True).exists()


def project_last_seq(*, project_id: Any) -> int | None:
    return Project.objects.filter(pk=project_id).values_list("last_seq", flat=True).first()


def followed_last_seq(*, user_id: Any, project_id: Any) -> int | None:
    """The project's last seq if the user may follow it, else None: one read, so access and
    position are taken at the same moment."""
    return (
        Project.objects.filter(pk=project_id, memberships__user_id=user_id, memberships__user__is_active=True)
        .values_list("last_seq", flat=True)
        .first()
    )


def events_between(*, project_id: Any, after: int, up_to: int) -> list[Activity]:
    """Events with after < seq <= up_to, oldest first."""
    return list(Activity.objects.filter(project_id=project_id, seq__gt=after, seq__lte=up_to).order_by("seq"))


# Sprints


def burndown(*, sprint: Sprint, today: datetime.date | None = None) -> dict[str, Any]:
    """Points of the sprint's tasks not done at the end of each day, replayed from the
    activity log: each task's state at a moment is the snapshot its latest event recorded
    (tasks.events.TaskSnapshot: `sprint`, `is_done`, `story_points`), so a task done on
    day 3 and reopened on day 5 counts as done on days 3-4, and a deleted one stops
    counting. Days after today have no value yet."""
    if sprint.start_date is None or sprint.end_date is None:
        return {"dates": [], "ideal": [], "remaining": [], "total_points": 0}
    today = today or timezone.now().date()
    days = [
        sprint.start_date + datetime.timedelta(days=n) for n in range((sprint.end_date - sprint.start_date).days + 1)
    ]
    timelines = _task_timelines(sprint)
    remaining: list[int | None] = []
    for day in days:
        end_of_day = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=datetime.UTC)
        remaining.append(None if day > today else _open_points(timelines, str(sprint.pk), end_of_day))
    total = sprint.committed_points if sprint.committed_points is not None else (remaining[0] or 0)
    steps = max(len(days) - 1, 1)
    ideal = [round(total * (1 - n / steps), 2) for n in range(len(days))]
    return {"dates": days, "ideal": ideal, "remaining": remaining, "total_points": total}


Timeline = list[tuple[datetime.datetime, TaskSnapshot | None]]


def _task_timelines(sprint: Sprint) -> dict[Any, Timeline]:
    """For each task that ever was in the sprint, its snapshots in log order, up to the
    sprint's completion (completing it moves its open tasks away: its chart ends there)."""
    sprint_id = str(sprint.pk)
    history = Activity.objects.filter(project_id=sprint.project_id, target_type=Target.TASK)
    candidates = set(history.filter(data__sprint=sprint_id).values_list("task_id", flat=True))
    candidates |= set(Task.objects.filter(sprint=sprint).values_list("pk", flat=True))
    completed_at_seq = (
        Activity.objects.filter(
            project_id=sprint.project_id, target_type=Target.SPRINT, target_id=sprint_id, verb=Verb.SPRINT_COMPLETED
        )
        .values_list("seq", flat=True)
        .first()
    )
    events = history.filter(task_id__in=candidates)
    if completed_at_seq is not None:
        events = events.filter(seq__lt=completed_at_seq)
    timelines: dict[Any, Timeline] = {}
    for task_id, at, data in events.order_by("seq").values_list("task_id", "created_at", "data"):
        timelines.setdefault(task_id, []).append((at, data))
    return timelines


def _open_points(timelines: dict[Any, Timeline], sprint_id: str, moment: datetime.datetime) -> int:
    points = 0
    for timeline in timelines.values():
        state: TaskSnapshot | None = None
        for at, snapshot in timeline:
            if at >= moment:
                break
            state = snapshot
        if state is not None and state["sprint"] == sprint_id and not state["is_done"]:
            points += state["story_points"] or 0
    return points


def velocity(*, project: Project, last: int) -> dict[str, Any]:
    completed = list(
        Sprint.objects.filter(project=project, status=SprintStatus.COMPLETED).order_by("-end_date", "-created_at")[
            :last
        ]
    )
    completed.reverse()
    points = [s.completed_points or 0 for s in completed]
    return {
        "sprints": [
            {
                "sprint": s.pk,
                "name": s.name,
                "committed_points": s.committed_points,
                "completed_points": s.completed_points,
            }
            for s in completed
        ],
        "average": round(sum(points) / len(points), 2) if points else None,
    }


# Time tracking


def time_entries_for_user(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[TimeEntry]:
    """Entries on tasks of the user's projects (everyone's, as the project's members see
    them), newest first, filtered by `filters` (tasks.filters.TimeEntryFilter)."""
    entries = TimeEntry.objects.filter(task__project__memberships__user=user).order_by("-started_at", "id")
    return apply_filters(TimeEntryFilter, entries, filters, user=user)


def running_timer(*, user: User) -> TimeEntry | None:
    return TimeEntry.objects.filter(user=user, ended_at__isnull=True).first()


def time_report(
    *, project: Project, date_from: datetime.date | None, date_to: datetime.date | None, group_by: str
) -> dict[str, Any]:
    """Minutes per user, task or day (UTC) over a date range; running timers count up to now."""
    entries = TimeEntry.objects.filter(task__project=project).select_related("user", "task")
    if date_from is not None:
        entries = entries.filter(started_at__date__gte=date_from)
    if date_to is not None:
        entries = entries.filter(started_at__date__lte=date_to)
    now = timezone.now()
    rows: dict[str, dict[str, Any]] = {}
    for entry in entries:
        minutes = entry.minutes if entry.ended_at is not None else elapsed_minutes(entry.started_at, now)
        if group_by == "user":
            person = entry.user
            key = str(entry.user_id) if person else "deleted"
            label = (person.full_name or person.username) if person else "(deleted user)"
        elif group_by == "task":
            key, label = str(entry.task_id), f"{project.key}-{entry.task.number} {entry.task.title}"
        else:
            day = entry.started_at.astimezone(datetime.UTC).date().isoformat()
            key, label = day, day
        row = rows.setdefault(key, {"key": key, "label": label, "minutes": 0})
        row["minutes"] += minutes
    ordered = (
        sorted(rows.values(), key=lambda row: row["key"])
        if group_by == "day"
        else sorted(rows.values(), key=lambda row: (-row["minutes"], row["label"]))
    )
    return {"total_minutes": sum(row["minutes"] for row in ordered), "rows": ordered}
