"""Time tracking: /api/v1/time-entries/, timers, and /api/v1/projects/{id}/time-report/."""

from __future__ import annotations

import csv
import io
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from tasks import selectors
from tasks.api.base import ProjectScopedView, query_param, validated
from tasks.models import Role, TimeEntry
from tasks.serializers import (
    TimeEntryCreateSerializer,
    TimeEntrySerializer,
    TimeEntryUpdateSerializer,
    TimeReportSerializer,
)
from tasks.services import time as time_services
from tasks.services.common import require_role
from timetodo.errors import Forbidden, Invalid


class TimeEntryListView(GenericAPIView[TimeEntry]):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()  # for the schema; reads go through selectors

    @extend_schema(
        parameters=[
            OpenApiParameter("project", str),
            OpenApiParameter("task", str),
            OpenApiParameter("user", str, description="A user id or `me`."),
            OpenApiParameter("from", str, description="YYYY-MM-DD, inclusive (by start, UTC)."),
            OpenApiParameter("to", str, description="YYYY-MM-DD, inclusive."),
        ],
        responses=TimeEntrySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        entries = selectors.time_entries_for_user(user=user)
        for name, lookup in (("project", "task__project_id"), ("task", "task_id")):
            value = query_param(request, name, serializers.UUIDField())
            if value is not None:
                entries = entries.filter(**{lookup: value})
        who = request.query_params.get("user")
        if who:
            entries = entries.filter(
                user_id=user.pk if who == "me" else query_param(request, "user", serializers.UUIDField())
            )
        for name, lookup in (("from", "started_at__date__gte"), ("to", "started_at__date__lte")):
            value = query_param(request, name, serializers.DateField())
            if value is not None:
                entries = entries.filter(**{lookup: value})
        page = self.paginate_queryset(entries.order_by("-started_at", "id"))
        return self.get_paginated_response(TimeEntrySerializer(page, many=True).data)

    @extend_schema(request=TimeEntryCreateSerializer, responses={201: TimeEntrySerializer})
    def post(self, request: Request) -> Response:
        user = request_user(request)
        values = validated(TimeEntryCreateSerializer, request)
        task, role = selectors.task_for_user(user=user, task_id=values.pop("task"))
        require_role(role, Role.MEMBER, "log time")
        entry = time_services.time_entry_create(actor=user, task=task, **values)
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimeEntryDetailView(GenericAPIView[TimeEntry]):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()

    def entry(self, entry_id: Any) -> TimeEntry:
        user = request_user(self.request)
        entry, role = selectors.time_entry_for_user(user=user, entry_id=entry_id)
        if entry.user_id != user.pk:
            require_role(role, Role.ADMIN, "change other people's time entries")
        elif role == Role.VIEWER:
            raise Forbidden("You need the member role or higher to change time entries.")
        return entry

    @extend_schema(request=TimeEntryUpdateSerializer, responses=TimeEntrySerializer)
    def patch(self, request: Request, entry_id: Any) -> Response:
        entry = self.entry(entry_id)
        values = validated(TimeEntryUpdateSerializer, request)
        entry = time_services.time_entry_update(actor=request_user(request), entry_id=entry.pk, values=values)
        return Response(TimeEntrySerializer(entry).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, entry_id: Any) -> Response:
        entry = self.entry(entry_id)
        time_services.time_entry_delete(actor=request_user(request), entry_id=entry.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskTimerStartView(GenericAPIView[TimeEntry]):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()

    @extend_schema(request=None, responses={201: TimeEntrySerializer})
    def post(self, request: Request, task_id: Any) -> Response:
        user = request_user(request)
        task, role = selectors.task_for_user(user=user, task_id=task_id)
        require_role(role, Role.MEMBER, "track time")
        entry = time_services.timer_start(actor=user, task=task)
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimerStopView(GenericAPIView[TimeEntry]):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()

    @extend_schema(request=None, responses={200: TimeEntrySerializer})
    def post(self, request: Request) -> Response:
        entry = time_services.timer_stop(actor=request_user(request))
        return Response(TimeEntrySerializer(entry).data)


class TimerView(GenericAPIView[TimeEntry]):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()

    @extend_schema(responses={200: TimeEntrySerializer, 204: None})
    def get(self, request: Request) -> Response:
        entry = selectors.running_timer(user=request_user(request))
        if entry is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TimeEntrySerializer(entry).data)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A task title like `=HYPERLINK(...)` must not run as a formula when the CSV is opened."""
    return "'" + text if text.lstrip(" \n").startswith(FORMULA_STARTS) else text


class ReportCSVRenderer(renderers.BaseRenderer):
    """`?format=csv`: a header row, then one row per group; UTF-8, csv-module escaping."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        if isinstance(data, dict) and "rows" in data:
            writer.writerow(["key", "label", "minutes"])
            for row in data["rows"]:
                writer.writerow([row["key"], spreadsheet_safe(row["label"]), row["minutes"]])
        else:  # an error body
            writer.writerow(["detail"])
            writer.writerow([str(data)])
        return out.getvalue().encode("utf-8")


class ProjectTimeReportView(ProjectScopedView):
    renderer_classes = [renderers.JSONRenderer, ReportCSVRenderer]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if response.status_code >= 400:  # errors keep DRF's JSON shape, even with ?format=csv
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str),
            OpenApiParameter("to", str),
            OpenApiParameter("group_by", str, enum=["user", "task", "day"]),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses=TimeReportSerializer,
    )
    def get(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id)
        group_by = request.query_params.get("group_by", "user")
        if group_by not in ("user", "task", "day"):
            raise Invalid({"group_by": ["Use user, task or day."]})
        date_from = query_param(request, "from", serializers.DateField())
        date_to = query_param(request, "to", serializers.DateField())
        if date_from and date_to and date_to < date_from:
            raise Invalid({"to": ["The end of the range is before its start."]})
        report = selectors.time_report(project=project, date_from=date_from, date_to=date_to, group_by=group_by)
        response = Response(TimeReportSerializer(report).data)
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="{project.key}-time-{group_by}.csv"'
        return response
