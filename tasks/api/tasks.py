"""/api/v1/tasks/... and /api/v1/comments/...: tasks, moves, bulk updates, comments, history."""

from __future__ import annotations

import re
import uuid
from typing import Any

import django_filters
from django.db.models import F, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from tasks import selectors
from tasks.api.base import validated
from tasks.models import Activity, Comment, Priority, Role, Task
from tasks.serializers import (
    ActivitySerializer,
    BulkSerializer,
    CommentSerializer,
    CommentWriteSerializer,
    TaskCreateSerializer,
    TaskMoveSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from tasks.services import comments as comment_services
from tasks.services import tasks as task_services
from tasks.services.common import require_role
from timetodo.errors import Forbidden, Invalid


class IdOrKeywordFilter(django_filters.CharFilter):
    """An id, or one of the keywords `none` (unset) and, where allowed, `me`."""

    def __init__(self, *args: Any, allow_me: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_me = allow_me

    def filter(self, qs: QuerySet[Task], value: Any) -> QuerySet[Task]:
        if value in (None, ""):
            return qs
        if value == "none":
            return qs.filter(**{f"{self.field_name}__isnull": True})
        if value == "me" and self.allow_me:
            return qs.filter(**{self.field_name: self.parent.request.user.pk})
        try:
            return qs.filter(**{self.field_name: uuid.UUID(value)})
        except ValueError:
            keywords = "an id, 'me' or 'none'" if self.allow_me else "an id or 'none'"
            raise exceptions.ValidationError({self.field_name: [f"Use {keywords}."]}) from None


class NullsLastOrdering(django_filters.OrderingFilter):
    """Orders with empty values last either way, and by id last, so pages are stable."""

    def filter(self, qs: QuerySet[Task], value: Any) -> QuerySet[Task]:
        if not value:
            return qs
        expressions = []
        for param in value:
            name = self.get_ordering_value(param)
            field = F(name.lstrip("-"))
            expressions.append(field.desc(nulls_last=True) if name.startswith("-") else field.asc(nulls_last=True))
        return qs.order_by(*expressions, "id")


class TaskFilter(django_filters.FilterSet):
    project = django_filters.UUIDFilter(field_name="project_id")
    column = django_filters.UUIDFilter(field_name="column_id")
    assignee = IdOrKeywordFilter(field_name="assignee", allow_me=True)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    label = IdOrKeywordFilter(field_name="labels")
    sprint = IdOrKeywordFilter(field_name="sprint")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    is_done = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_is_done")
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    ordering = NullsLastOrdering(
        fields=(
            ("position", "position"),
            ("number", "number"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("due_date", "due_date"),
            ("priority_rank", "priority"),
        )
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_is_done(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        return queryset.filter(is_done=value == "true")

    def filter_search(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        for word in value.split()[:10]:
            queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
        return queryset


def parse_if_match(request: Request) -> int | None:
    """`If-Match: "3"` (or W/"3", or 3) -> 3; `*` or absent -> None; anything else never matches."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    return int(value) if re.fullmatch(r"[0-9]{1,11}", value) else -1


def task_response(task: Task, status_code: int = status.HTTP_200_OK) -> Response:
    return shown_response(TaskSerializer(task).data, status_code)


def shown_response(shown: dict[str, Any], status_code: int) -> Response:
    response = Response(shown, status=status_code)
    response["ETag"] = f'"{shown["version"]}"'
    return response


def written_response(task: Task, status_code: int = status.HTTP_200_OK) -> Response:
    """The answer to a write: the task as its event recorded it inside the transaction (the
    same representation clients receive on the socket, without reading it again), or
    read fresh when nothing changed."""
    if task.shown is None:
        return task_response(fresh(task.pk), status_code)
    return shown_response(task.shown, status_code)


def fresh(task_id: Any) -> Task:
    return selectors.task_for_display(task_id=task_id)


def stale_response(exc: task_services.StaleVersion) -> Response:
    return task_response(fresh(exc.task.pk), exc.status_code)


class TaskListView(GenericAPIView[Task]):
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Task.objects.none()
        # (project, number) has a unique index: pages come straight off it.
        return selectors.tasks_for_user(user=request_user(self.request)).order_by("project_id", "number")

    @extend_schema(operation_id="tasks_list", responses=TaskSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = selectors.prepare_tasks(self.paginate_queryset(self.filter_queryset(self.get_queryset())) or [])
        return self.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer})
    def post(self, request: Request) -> Response:
        user = request_user(request)
        values = validated(TaskCreateSerializer, request)
        project, role = selectors.project_with_role(user=user, project_id=values.pop("project"))
        require_role(role, Role.MEMBER, "create tasks")
        task = task_services.task_create(actor=user, project_id=project.pk, values=values)
        return written_response(task, status.HTTP_201_CREATED)


class TaskDetailView(GenericAPIView[Task]):
    serializer_class = TaskSerializer

    def get(self, request: Request, task_id: Any) -> Response:
        task, _ = selectors.task_for_user(user=request_user(request), task_id=task_id)
        return task_response(task)

    @extend_schema(
        request=TaskUpdateSerializer,
        parameters=[OpenApiParameter("If-Match", str, location=OpenApiParameter.HEADER)],
        responses={200: TaskSerializer, 409: TaskSerializer, 412: TaskSerializer},
    )
    def patch(self, request: Request, task_id: Any) -> Response:
        user = request_user(request)
        task, role = selectors.task_for_user(user=user, task_id=task_id, display=False)
        require_role(role, Role.MEMBER, "edit tasks")
        values = validated(TaskUpdateSerializer, request)
        version = values.pop("version", None)
        try:
            task = task_services.task_update(
                actor=user, task_id=task.pk, values=values, if_match=parse_if_match(request), version=version
            )
        except task_services.StaleVersion as exc:
            return stale_response(exc)
        return written_response(task)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, task_id: Any) -> Response:
        user = request_user(request)
        task, role = selectors.task_for_user(user=user, task_id=task_id, display=False)
        require_role(role, Role.MEMBER, "delete tasks")
        task_services.task_delete(actor=user, task_id=task.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskMoveView(GenericAPIView[Task]):
    serializer_class = TaskSerializer

    @extend_schema(
        request=TaskMoveSerializer,
        parameters=[OpenApiParameter("If-Match", str, location=OpenApiParameter.HEADER)],
        responses={200: TaskSerializer, 409: TaskSerializer, 412: TaskSerializer},
    )
    def post(self, request: Request, task_id: Any) -> Response:
        user = request_user(request)
        task, role = selectors.task_for_user(user=user, task_id=task_id, display=False)
        require_role(role, Role.MEMBER, "move tasks")
        values = validated(TaskMoveSerializer, request)
        try:
            task = task_services.task_move(
                actor=user,
                task_id=task.pk,
                column_id=values["column"],
                before_id=values.get("before"),
                after_id=values.get("after"),
                if_match=parse_if_match(request),
                version=values.get("version"),
            )
        except task_services.StaleVersion as exc:
            return stale_response(exc)
        return written_response(task)


class TaskBulkView(GenericAPIView[Task]):
    serializer_class = TaskSerializer
    pagination_class = None
    queryset = Task.objects.none()  # for the schema; reads go through selectors

    @extend_schema(request=BulkSerializer, responses=TaskSerializer(many=True))
    def post(self, request: Request) -> Response:
        user = request_user(request)
        values = validated(BulkSerializer, request)
        ids = set(values["ids"])
        tasks = list(selectors.tasks_for_user(user=user).filter(pk__in=ids))
        if len(tasks) != len(ids):
            raise Invalid({"ids": ["Some of these tasks do not exist or are not visible to you."]})
        for project_id in {task.project_id for task in tasks}:
            require_role(selectors.role_of(user=user, project_id=project_id), Role.MEMBER, "edit tasks")
        task_services.tasks_bulk_update(actor=user, tasks=tasks, values=values["set"])
        updated = selectors.prepare_tasks(
            selectors.tasks_for_user(user=user).filter(pk__in=ids).order_by("column", "position")
        )
        return Response(TaskSerializer(updated, many=True).data)


class TaskCommentsView(GenericAPIView[Any]):
    serializer_class = CommentSerializer
    queryset = Comment.objects.none()  # for the schema; reads go through selectors

    @extend_schema(operation_id="tasks_comments_list", responses=CommentSerializer(many=True))
    def get(self, request: Request, task_id: Any) -> Response:
        task, _ = selectors.task_for_user(user=request_user(request), task_id=task_id)
        page = self.paginate_queryset(selectors.comments_of(task=task))
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(request=CommentWriteSerializer, responses={201: CommentSerializer})
    def post(self, request: Request, task_id: Any) -> Response:
        user = request_user(request)
        task, _ = selectors.task_for_user(user=user, task_id=task_id)  # viewers may comment
        values = validated(CommentWriteSerializer, request)
        comment = comment_services.comment_create(actor=user, task=task, body=values["body"])
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentDetailView(GenericAPIView[Any]):
    serializer_class = CommentSerializer

    @extend_schema(request=CommentWriteSerializer, responses=CommentSerializer)
    def patch(self, request: Request, comment_id: Any) -> Response:
        user = request_user(request)
        comment, _ = selectors.comment_for_user(user=user, comment_id=comment_id)
        if comment.author_id != user.pk:
            raise Forbidden("Only the author edits a comment.")
        values = validated(CommentWriteSerializer, request)
        comment = comment_services.comment_update(actor=user, comment=comment, body=values["body"])
        return Response(CommentSerializer(comment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, comment_id: Any) -> Response:
        user = request_user(request)
        comment, role = selectors.comment_for_user(user=user, comment_id=comment_id)
        if comment.author_id != user.pk:
            require_role(role, Role.ADMIN, "delete other people's comments")
        comment_services.comment_delete(actor=user, comment=comment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskActivityView(GenericAPIView[Any]):
    serializer_class = ActivitySerializer
    queryset = Activity.objects.none()

    @extend_schema(operation_id="tasks_activity_list", responses=ActivitySerializer(many=True))
    def get(self, request: Request, task_id: Any) -> Response:
        task, _ = selectors.task_for_user(user=request_user(request), task_id=task_id)
        page = self.paginate_queryset(selectors.activity_of_task(task=task))
        return self.get_paginated_response(ActivitySerializer(page, many=True).data)
