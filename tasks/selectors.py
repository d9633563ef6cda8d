"""Every read of the domain, already scoped to what the user may see."""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import (
    Aggregate,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.utils import timezone

from accounts.models import User
from tasks.events import (
    SCHEMA_VERSION,
    TASK_ROW_FIELDS,
    TASK_ROW_RELATED,
    Target,
    TaskSnapshot,
    Verb,
    task_snapshot,
    task_snapshot_of_row,
)
from tasks.filters import ProjectFilter, TaskFilter, TimeEntryFilter
from tasks.filters import apply as apply_filters
from tasks.models import (
    PRIORITY_RANK,
    Activity,
    Attachment,
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
from timetodo import __version__
from timetodo.compiled import CompiledQuery, instances
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
    Attachment: "project__",
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


def attachments_of(*, task: Task) -> QuerySet[Attachment]:
    return Attachment.objects.filter(task=task).order_by("created_at", "id")


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
TASK_RELATED_COLUMNS = list(TASK_ROW_RELATED.values())


class LabelIds(Aggregate):
    """A task's label ids in one text cell, comma-separated (read with its row: no second
    query, and cheaper than prefetching Label objects a thousand at a time)."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, function="STRING_AGG", template="%(function)s(%(expressions)s::text, ',')"
        )


def _task_queryset(*, with_project: bool = True) -> QuerySet[Task]:
    related = ["project", "assignee"] if with_project else ["assignee"]
    columns = TASK_COLUMNS + [c for c in TASK_RELATED_COLUMNS if with_project or not c.startswith("project__")]
    links = Task.labels.through.objects.filter(task_id=OuterRef("pk")).order_by().values("task_id")
    label_ids = Subquery(links.annotate(ids=LabelIds("label_id")).values("ids")[:1])  # type: ignore[misc]
    return Task.objects.select_related(*related).only(*columns).annotate(label_csv=label_ids)


def _label_ids(csv: str | None) -> list[uuid.UUID]:
    return [uuid.UUID(pk) for pk in csv.split(",")] if csv else []


def _running_minutes(task_ids: list[Any]) -> dict[Any, int]:
    """Minutes counted now by the timers running on these tasks (finished entries are
    already summed in `spent_minutes`): one query."""
    running: dict[Any, int] = {}
    now = timezone.now()
    entries = TimeEntry.objects.filter(task_id__in=task_ids, ended_at__isnull=True)
    for task_id, started_at in entries.values_list("task_id", "started_at"):
        running[task_id] = running.get(task_id, 0) + elapsed_minutes(started_at, now)
    return running


def task_rows(tasks: QuerySet[Task]) -> QuerySet[Any]:
    """These tasks as rows (`values()`), with what a snapshot reads: no model instances."""
    related = {name: F(path) for name, path in TASK_ROW_RELATED.items()}
    return tasks.values(*TASK_ROW_FIELDS, "label_csv", **related)


def snapshots_of_rows(rows: Iterable[Mapping[str, Any]], *, timers: bool = True) -> list[TaskSnapshot]:
    """Rows from `task_rows` as snapshots; running timers read in one query, or none with
    `timers=False` (the caller knows no timer runs in the project)."""
    rows = list(rows)
    running = _running_minutes([row["id"] for row in rows]) if rows and timers else {}
    return [
        task_snapshot_of_row(row, label_ids=_label_ids(row["label_csv"]), running_minutes=running.get(row["id"], 0))
        for row in rows
    ]


def prepare_tasks(tasks: Iterable[Task], *, timers: bool = True) -> list[Task]:
    """Attach what TaskSerializer shows beyond the task row: `label_ids` (from the row's
    `label_csv`) and `running_minutes` (timers running on the task now; finished entries
    are already summed in `spent_minutes`), in one query for any number of tasks, none with
    `timers=False` (when the caller knows that no timer runs in the project)."""
    tasks = list(tasks)
    running = _running_minutes([task.pk for task in tasks]) if tasks and timers else {}
    for task in tasks:
        task.label_ids = _label_ids(task.label_csv)  # type: ignore[attr-defined]
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


def _task_for_write_rows(task: Any) -> QuerySet[Any]:
    timers = TimeEntry.objects.filter(task_id=OuterRef("pk"), ended_at__isnull=True)
    assignee = {"assignee_username": F("assignee__username"), "assignee_full_name": F("assignee__full_name")}
    return (
        _task_queryset(with_project=False)
        .annotate(timing=Exists(timers))
        .filter(pk=task)
        .values(*TASK_COLUMNS, "label_csv", "timing", **assignee)
    )


_TASK_FOR_WRITE = CompiledQuery(_task_for_write_rows, "task")
# (in the model's field order, as Model.from_db reads them)
ASSIGNEE_FIELDS = [
    field.attname for field in User._meta.concrete_fields if field.attname in ("id", "username", "full_name")
]


def task_for_write(*, task_id: Any) -> Task | None:
    """A task for a write under its project's lock, with what its snapshot shows (labels,
    running timers, the assignee's name): one compiled query, two while a timer runs on it."""
    try:
        rows = _TASK_FOR_WRITE.rows(task=task_id)
    except ValueError:
        return None
    if not rows:
        return None
    row = rows[0]
    username, full_name = row.pop("assignee_username"), row.pop("assignee_full_name")
    (task,) = instances(Task, [row])
    if task.assignee_id is not None:
        known = {"id": task.assignee_id, "username": username, "full_name": full_name}
        task.assignee = User.from_db(Task.objects.db, ASSIGNEE_FIELDS, [known[name] for name in ASSIGNEE_FIELDS])
    return prepare_tasks([task], timers=row["timing"])[0]


def tasks_shown() -> QuerySet[Task]:
    """Tasks with exactly the columns their snapshot reads (then `prepare_tasks`)."""
    return _task_queryset()


def task_snapshot_of(*, task_id: Any) -> TaskSnapshot:
    """The task as its events and the REST API show it, read now."""
    return task_snapshot_for(task=_task_queryset().get(pk=task_id))


def task_snapshot_for(*, task: Task) -> TaskSnapshot:
    """The snapshot of a task read by `tasks_shown()` (one more query: running timers)."""
    prepared: Any = prepare_tasks([task])[0]
    return task_snapshot(task, label_ids=prepared.label_ids, running_minutes=prepared.running_minutes)


# Versions for conditional reads (ETag / If-None-Match). Read before the body: a write in
# between makes the body newer than its version (one needless 200 later), never older.


VERSION_COLUMNS = ("project_id", "role", "seq", "people", "renamed", "timing")


def _versions_of(memberships: QuerySet[Membership]) -> QuerySet[Any]:
    """Per project of these memberships, what a task list or board of it shows that can
    change: the caller's role, the project's last seq (every change inside it is an event),
    its members' count and latest profile save (a rename of an assignee is no event), and
    whether a timer runs in it (time spent then grows without events). One query."""
    members = Membership.objects.filter(project_id=OuterRef("project_id")).order_by().values("project_id")
    timers = TimeEntry.objects.filter(task__project_id=OuterRef("project_id"), ended_at__isnull=True)
    rows = memberships.annotate(
        seq=F("project__last_seq"),
        people=Subquery(members.annotate(n=Count("*")).values("n")[:1]),
        renamed=Subquery(members.annotate(at=Max("user__updated_at")).values("at")[:1]),
        timing=Exists(timers),
    )
    return rows.order_by("project_id").values(*VERSION_COLUMNS)


# The hottest reads, compiled once (timetodo.compiled): the same querysets, built and
# compiled by the ORM on first use rather than on every request.
_LIST_VERSIONS = CompiledQuery(lambda user: _versions_of(Membership.objects.filter(user_id=user)), "user")
_BOARD_VERSIONS = CompiledQuery(
    lambda user, project: _versions_of(Membership.objects.filter(user_id=user, project_id=project)), "user", "project"
)
_PAGE_OF_ALL_TASKS = CompiledQuery(lambda user: task_rows(tasks_for_user(user=User(pk=user))), "user", counted=True)
_PAGE_OF_PROJECT_TASKS = CompiledQuery(
    lambda user, project: task_rows(tasks_for_user(user=User(pk=user), filters={"project": str(project)})),
    "user",
    "project",
    counted=True,
)
_BOARD_ROWS = CompiledQuery(
    lambda project: task_rows(
        _task_queryset(with_project=False).filter(project_id=project).order_by("column_id", "position")
    ),
    "project",
)
# What a list may ask for and still be read by the compiled query: the project, the page.
COMPILED_LIST_PARAMETERS = frozenset({"project", "page", "page_size"})
PageReader = Callable[[int, int], tuple[list[dict[str, Any]], int]]


def task_page_reader(*, user: User, filters: Mapping[str, Any]) -> PageReader | None:
    """For a task list filtered by nothing but its project (the web app's, most clients'):
    `read(limit, offset)` -> a page of `tasks_for_user` rows (as `task_rows`) and how many
    there are, in one query. None for any other filter, or a project id that does not parse:
    those go through `tasks_for_user` (and its errors)."""
    if not COMPILED_LIST_PARAMETERS.issuperset(filters):
        return None
    raw = filters.get("project")
    if raw is None:
        return lambda limit, offset: _PAGE_OF_ALL_TASKS.page(user=user.pk, limit=limit, offset=offset)
    try:
        project = uuid.UUID(str(raw))
    except ValueError:
        return None
    return lambda limit, offset: _PAGE_OF_PROJECT_TASKS.page(user=user.pk, project=project, limit=limit, offset=offset)


def _fingerprint(kind: str, user: User, versions: list[tuple[Any, ...]], *, timing: bool) -> str:
    # The code's version too: a release may draw the same data differently.
    parts: list[Any] = [kind, __version__, SCHEMA_VERSION, str(user.pk), versions]
    if timing:  # a timer runs: the time it counts changes every second
        parts.append(int(timezone.now().timestamp()))
    return '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class ReadVersion:
    etag: str
    timers_running: bool  # False: the read may skip the running timers' query


def _read_version(kind: str, user: User, rows: list[dict[str, Any]]) -> ReadVersion:
    versions = [tuple(row[name] for name in VERSION_COLUMNS) for row in rows]
    timing = any(row["timing"] for row in rows)
    return ReadVersion(_fingerprint(kind, user, versions, timing=timing), timing)


def task_list_version(*, user: User) -> ReadVersion:
    """The ETag of the user's task lists, besides their query string: the projects they are
    in and each one's version (a list without a project filter spans them all)."""
    return _read_version("tasks", user, _LIST_VERSIONS.rows(user=user.pk))


def board_version(*, user: User, project: Project) -> ReadVersion:
    """The ETag of a project's board as the user sees it."""
    return _read_version("board", user, _BOARD_VERSIONS.rows(user=user.pk, project=project.pk))


def board(*, project: Project, timers: bool = True) -> list[Column]:
    """Every column with its tasks' snapshots in order (`board_tasks`): two queries whatever
    the number of tasks (three while a timer runs in the project), rows, not models."""
    columns = list(columns_of(project=project))
    rows = _BOARD_ROWS.rows(project=project.pk)
    by_column: dict[Any, list[TaskSnapshot]] = {column.pk: [] for column in columns}
    for row, snapshot in zip(rows, snapshots_of_rows(rows, timers=timers), strict=True):
        by_column.setdefault(row["column_id"], []).append(snapshot)
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
