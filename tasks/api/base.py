"""The endpoint bases: resolve the URL's parent and the caller's role once, then authorize.

As in Sentry's API layer, an endpoint inside a project names its parent by the URL (a
project, task, comment, sprint or time entry), and its base resolves that object and
the caller's role in one query before any handler runs (`initial`): anyone who is not a
member gets 404, a role below the method's action (tasks.permissions.Action) gets 403.
Handlers find the object on `self.<name>` and the role on `self.role`. Endpoints whose
parent comes from the body (a task's `project`, an entry's `task`, bulk ids) authorize it
with `authorize`. Services check the role again under the project lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from django.db.models import Model, QuerySet
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from accounts.models import User
from tasks import permissions, selectors
from tasks.events import TaskSnapshot
from tasks.models import Comment, Project, Sprint, Task, TimeEntry
from tasks.permissions import Action
from timetodo.errors import Invalid, version_etag

M = TypeVar("M", bound=Model)
HANDLERS = ("get", "post", "put", "patch", "delete")


class Endpoint(GenericAPIView[Any]):
    """Every projects/tasks endpoint: `actions` maps each HTTP method the view has a handler
    for (HEAD counts as GET) to the action it performs (tasks.permissions.Action), or to
    None for endpoints outside any project (your own tasks, timers...) where the selectors
    scope what is shown."""

    actions: ClassVar[Mapping[str, Action | None]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handled = {name.upper() for name in HANDLERS if hasattr(cls, name)}
        missing = handled - set(cls.actions)
        if missing:
            raise TypeError(f"{cls.__name__} names no action for {sorted(missing)}")

    @property
    def user(self) -> User:
        return request_user(self.request)

    def method_action(self) -> Action | None:
        method = self.request.method or ""
        return self.actions.get("GET" if method == "HEAD" else method)  # (Django answers HEAD with get)

    def authorize(self, queryset: QuerySet[M], pk: Any) -> tuple[M, str]:
        """The object named by `pk` and the caller's role, if the caller may do this
        method's action to it."""
        found, role = selectors.with_role(user=self.user, queryset=queryset, pk=pk)
        action = self.method_action()
        if action is not None:
            permissions.require(role, action)
        return found, role

    def authorize_all(self, scoped: Iterable[Any]) -> None:
        """Objects from a scoped selector (each with `caller_role`): the caller may do
        this method's action to every one."""
        action = self.method_action()
        for item in scoped:
            if action is not None:
                permissions.require(item.caller_role, action)


class ParentEndpoint(Endpoint, Generic[M]):
    """An endpoint below one object named by the URL (`lookup` kwarg)."""

    lookup: ClassVar[str]
    role: str
    parent_id: Any
    # Methods whose service finds the parent and checks the role itself, under the project's
    # lock and in the same round trip that takes the lock (the same 404 and 403): the
    # endpoint does not read it first. Their handlers use `parent_id`.
    checked_by_service: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unchecked = sorted(method for method, action in cls.actions.items() if action is None)
        if unchecked:
            raise TypeError(f"{cls.__name__} resolves its parent for every method: {unchecked} need an action")

    def parent_queryset(self) -> QuerySet[M]:
        raise NotImplementedError

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, throttles
        if self.method_action() is None or getattr(self, "swagger_fake_view", False):
            # OPTIONS (metadata only), a method without a handler (DRF answers 405), and
            # the schema generator: no handler of ours runs, so there is nothing to resolve.
            return
        if request.method in self.checked_by_service:
            self.parent_id = selectors.uuid_or_404(kwargs[self.lookup])
            return
        parent, self.role = self.authorize(self.parent_queryset(), kwargs[self.lookup])
        further = self.object_action(parent)
        if further is not None:
            self.require(further)
        self.found(parent)

    def found(self, parent: M) -> None:
        raise NotImplementedError

    def object_action(self, parent: M) -> Action | None:
        """A further action that depends on the object (whose time entry, whose comment),
        checked against the role next; may raise for rules that are not about roles."""
        return None

    def require(self, action: Action) -> None:
        """A further check that depends on the object (a comment's author, an entry's user)."""
        permissions.require(self.role, action)


class ProjectEndpoint(ParentEndpoint[Project]):
    lookup = "project_id"
    project: Project

    def parent_queryset(self) -> QuerySet[Project]:
        return Project.objects.all()

    def found(self, parent: Project) -> None:
        self.project = parent


class TaskEndpoint(ParentEndpoint[Task]):
    """The task comes with what its snapshot reads but labels and timers (selectors.prepare_tasks)."""

    lookup = "task_id"
    task: Task

    def parent_queryset(self) -> QuerySet[Task]:
        return selectors.tasks_shown()

    def found(self, parent: Task) -> None:
        self.task = parent


class CommentEndpoint(ParentEndpoint[Comment]):
    lookup = "comment_id"
    comment: Comment

    def parent_queryset(self) -> QuerySet[Comment]:
        return Comment.objects.select_related("task", "author")

    def found(self, parent: Comment) -> None:
        self.comment = parent


class SprintEndpoint(ParentEndpoint[Sprint]):
    lookup = "sprint_id"
    sprint: Sprint

    def parent_queryset(self) -> QuerySet[Sprint]:
        return Sprint.objects.all()

    def found(self, parent: Sprint) -> None:
        self.sprint = parent


class TimeEntryEndpoint(ParentEndpoint[TimeEntry]):
    lookup = "entry_id"
    entry: TimeEntry

    def parent_queryset(self) -> QuerySet[TimeEntry]:
        return TimeEntry.objects.select_related("task")

    def found(self, parent: TimeEntry) -> None:
        self.entry = parent


# Request and response helpers


def validated(serializer_class: type[serializers.Serializer[Any]], request: Request, **kwargs: Any) -> dict[str, Any]:
    """The request body checked by `serializer_class`; 400 naming the fields otherwise."""
    if not isinstance(request.data, dict):
        raise Invalid("Send a JSON object.")
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_param(request: Request, name: str, field: serializers.Field[Any, Any, Any, Any]) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as exc:
        raise Invalid({name: exc.detail}) from None


def task_response(snapshot: TaskSnapshot, status_code: int = 200) -> Response:
    """A task with its version as ETag (what If-Match compares with)."""
    return Response(snapshot, status=status_code, headers={"ETag": version_etag(snapshot["version"])})


# Conditional reads: lists and boards carry an ETag read before their body (selectors'
# *_version); a client sending it back in If-None-Match gets 304 after that one query.
REVALIDATE = "private, no-cache"  # a browser keeps it but asks every time; no shared cache


def none_match(request: Request, etag: str) -> bool:
    """If-None-Match names this ETag (weak comparison, RFC 9110 13.1.2), or is `*`."""
    tags = {tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")}
    return etag in tags or "*" in tags


def not_modified(request: Request, etag: str) -> Response | None:
    """304 when If-None-Match names this ETag, else None."""
    if none_match(request, etag):
        return Response(status=304, headers={"ETag": etag, "Cache-Control": REVALIDATE})
    return None


def with_etag(response: Response, etag: str) -> Response:
    response["ETag"] = etag
    response["Cache-Control"] = REVALIDATE
    return response
