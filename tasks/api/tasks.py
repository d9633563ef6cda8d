"""/api/v1/tasks/... and /api/v1/comments/...: tasks, moves, bulk updates, comments, history."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import permissions, selectors
from tasks.api.base import CommentEndpoint, Endpoint, TaskEndpoint, not_modified, task_response, validated, with_etag
from tasks.filters import SchemaFilterBackend, TaskFilter
from tasks.models import Activity, Comment, Task
from tasks.permissions import Action
from tasks.serializers.projects import ActivitySerializer
from tasks.serializers.tasks import (
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
from timetodo.errors import Invalid

IF_MATCH = OpenApiParameter("If-Match", str, location=OpenApiParameter.HEADER)


def parse_if_match(request: Request) -> int | None:
    """`If-Match: "3"` (or W/"3", or 3) -> 3; `*` or absent -> None; anything else never matches."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    return int(value) if re.fullmatch(r"[0-9]{1,11}", value) else -1


class TaskListView(Endpoint):
    serializer_class = TaskSerializer
    queryset = Task.objects.none()  # for the schema; reads go through selectors
    filterset_class = TaskFilter
    filter_backends = [SchemaFilterBackend]
    actions = {"GET": None, "POST": Action.CREATE_TASKS}

    @extend_schema(operation_id="tasks_list", responses=TaskSerializer(many=True))
    def get(self, request: Request) -> Response:
        version = selectors.task_list_version(user=self.user)
        if (unchanged := not_modified(request, version.etag)) is not None:
            return unchanged
        read = selectors.task_page_reader(user=self.user, filters=request.query_params)
        found = self.paginator.paginate_read(request, read) if read is not None else None  # type: ignore[union-attr]
        if found is None:
            rows = selectors.task_rows(selectors.tasks_for_user(user=self.user, filters=request.query_params))
            found = self.paginate_queryset(rows) or []
        page = selectors.snapshots_of_rows(found, timers=version.timers_running)
        return with_etag(self.get_paginated_response(page), version.etag)

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer})
    def post(self, request: Request) -> Response:
        values = validated(TaskCreateSerializer, request)
        # The service checks membership and role under the project's lock (404 / 403), in
        # the same round trip that takes the task's number: no check before it.
        written = task_services.task_create(actor=self.user, project_id=values.pop("project"), values=values)
        return task_response(written.snapshot, status.HTTP_201_CREATED)


class TaskDetailView(TaskEndpoint):
    serializer_class = TaskSerializer
    actions = {"GET": Action.VIEW, "PATCH": Action.EDIT_TASKS, "DELETE": Action.DELETE_TASKS}
    checked_by_service = frozenset({"PATCH"})

    def get(self, request: Request, task_id: Any) -> Response:
        return task_response(selectors.task_snapshot_for(task=self.task))

    @extend_schema(
        request=TaskUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: TaskSerializer, 409: TaskSerializer, 412: TaskSerializer},
    )
    def patch(self, request: Request, task_id: Any) -> Response:
        values = validated(TaskUpdateSerializer, request)
        version = values.pop("version", None)
        written = task_services.task_update(
            actor=self.user, task_id=self.parent_id, values=values, if_match=parse_if_match(request), version=version
        )
        return task_response(written.snapshot)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, task_id: Any) -> Response:
        task_services.task_delete(actor=self.user, task_id=self.task.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskMoveView(TaskEndpoint):
    serializer_class = TaskSerializer
    actions = {"POST": Action.MOVE_TASKS}
    checked_by_service = frozenset({"POST"})

    @extend_schema(
        request=TaskMoveSerializer,
        parameters=[IF_MATCH],
        responses={200: TaskSerializer, 409: TaskSerializer, 412: TaskSerializer},
    )
    def post(self, request: Request, task_id: Any) -> Response:
        values = validated(TaskMoveSerializer, request)
        written = task_services.task_move(
            actor=self.user,
            task_id=self.parent_id,
            column_id=values["column"],
            before_id=values.get("before"),
            after_id=values.get("after"),
            if_match=parse_if_match(request),
            version=values.get("version"),
        )
        return task_response(written.snapshot)


class TaskBulkView(Endpoint):
    serializer_class = TaskSerializer
    pagination_class = None
    queryset = Task.objects.none()  # for the schema; reads go through selectors
    actions = {"POST": Action.EDIT_TASKS}

    @extend_schema(request=BulkSerializer, responses=TaskSerializer(many=True))
    def post(self, request: Request) -> Response:
        values = validated(BulkSerializer, request)
        ids = set(values["ids"])
        tasks = list(selectors.tasks_for_user(user=self.user).filter(pk__in=ids))
        if len(tasks) != len(ids):
            raise Invalid({"ids": ["Some of these tasks do not exist or are not visible to you."]})
        self.authorize_all(tasks)
        task_services.tasks_bulk_update(actor=self.user, tasks=tasks, values=values["set"])
        updated = selectors.prepare_tasks(
            selectors.tasks_for_user(user=self.user).filter(pk__in=ids).order_by("column", "position")
        )
        return Response(TaskSerializer(updated, many=True).data)


class TaskCommentsView(TaskEndpoint):
    serializer_class = CommentSerializer
    queryset = Comment.objects.none()  # for the schema; reads go through selectors
    actions = {"GET": Action.VIEW, "POST": Action.COMMENT}

    @extend_schema(operation_id="tasks_comments_list", responses=CommentSerializer(many=True))
    def get(self, request: Request, task_id: Any) -> Response:
        page = self.paginate_queryset(selectors.comments_of(task=self.task))
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(request=CommentWriteSerializer, responses={201: CommentSerializer})
    def post(self, request: Request, task_id: Any) -> Response:
        values = validated(CommentWriteSerializer, request)
        comment = comment_services.comment_create(actor=self.user, task=self.task, body=values["body"])
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentDetailView(CommentEndpoint):
    serializer_class = CommentSerializer
    actions = {"PATCH": Action.COMMENT, "DELETE": Action.COMMENT}

    def object_action(self, comment: Comment) -> Action | None:
        if self.request.method == "PATCH":  # only the author edits
            permissions.require_comment_author(actor=self.user, author_id=comment.author_id)
            return None
        return permissions.comment_delete_action(actor=self.user, author_id=comment.author_id)

    @extend_schema(request=CommentWriteSerializer, responses=CommentSerializer)
    def patch(self, request: Request, comment_id: Any) -> Response:
        values = validated(CommentWriteSerializer, request)
        comment = comment_services.comment_update(actor=self.user, comment=self.comment, body=values["body"])
        return Response(CommentSerializer(comment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, comment_id: Any) -> Response:
        comment_services.comment_delete(actor=self.user, comment=self.comment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskActivityView(TaskEndpoint):
    serializer_class = ActivitySerializer
    queryset = Activity.objects.none()
    actions = {"GET": Action.VIEW}

    @extend_schema(operation_id="tasks_activity_list", responses=ActivitySerializer(many=True))
    def get(self, request: Request, task_id: Any) -> Response:
        page = self.paginate_queryset(selectors.activity_of_task(task=self.task))
        return self.get_paginated_response(ActivitySerializer(page, many=True).data)
