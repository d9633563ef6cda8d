"""Time tracking: /api/v1/time-entries/, timers, and /api/v1/projects/{id}/time-report/."""

from __future__ import annotations

import csv
import io
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import permissions, selectors
from tasks.api.base import Endpoint, ProjectEndpoint, TaskEndpoint, TimeEntryEndpoint, query_param, validated
from tasks.filters import SchemaFilterBackend, TimeEntryFilter
from tasks.models import TimeEntry
from tasks.permissions import Action
from tasks.serializers.time import (
    TimeEntryCreateSerializer,
    TimeEntrySerializer,
    TimeEntryUpdateSerializer,
    TimeReportSerializer,
)
from tasks.services import time as time_services
from timetodo.errors import Invalid


class TimeEntryListView(Endpoint):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()  # for the schema; reads go through selectors
    filterset_class = TimeEntryFilter
    filter_backends = [SchemaFilterBackend]
    actions = {"GET": None, "POST": Action.LOG_TIME}

    @extend_schema(responses=TimeEntrySerializer(many=True))
    def get(self, request: Request) -> Response:
        entries = selectors.time_entries_for_user(user=self.user, filters=request.query_params)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(TimeEntrySerializer(page, many=True).data)

    @extend_schema(request=TimeEntryCreateSerializer, responses={201: TimeEntrySerializer})
    def post(self, request: Request) -> Response:
        values = validated(TimeEntryCreateSerializer, request)
        task, _ = self.authorize(selectors.tasks_shown(), values.pop("task"))
        entry = time_services.time_entry_create(actor=self.user, task=task, **values)
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimeEntryDetailView(TimeEntryEndpoint):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()
    actions = {"PATCH": Action.VIEW, "DELETE": Action.VIEW}

    def object_action(self, entry: TimeEntry) -> Action:
        return permissions.time_entry_action(actor=self.user, entry_user_id=entry.user_id)

    @extend_schema(request=TimeEntryUpdateSerializer, responses=TimeEntrySerializer)
    def patch(self, request: Request, entry_id: Any) -> Response:
        values = validated(TimeEntryUpdateSerializer, request)
        entry = time_services.time_entry_update(actor=self.user, entry_id=self.entry.pk, values=values)
        return Response(TimeEntrySerializer(entry).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, entry_id: Any) -> Response:
        time_services.time_entry_delete(actor=self.user, entry_id=self.entry.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskTimerStartView(TaskEndpoint):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()
    actions = {"POST": Action.TRACK_TIME}

    @extend_schema(request=None, responses={201: TimeEntrySerializer})
    def post(self, request: Request, task_id: Any) -> Response:
        entry = time_services.timer_start(actor=self.user, task=self.task)
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimerStopView(Endpoint):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()
    actions = {"POST": None}  # your own timer

    @extend_schema(request=None, responses={200: TimeEntrySerializer})
    def post(self, request: Request) -> Response:
        entry = time_services.timer_stop(actor=self.user)
        return Response(TimeEntrySerializer(entry).data)


class TimerView(Endpoint):
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()
    actions = {"GET": None}  # your own timer

    @extend_schema(responses={200: TimeEntrySerializer, 204: None})
    def get(self, request: Request) -> Response:
        entry = selectors.running_timer(user=self.user)
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


class ProjectTimeReportView(ProjectEndpoint):
    renderer_classes = [renderers.JSONRenderer, ReportCSVRenderer]
    actions = {"GET": Action.VIEW}

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
        project = self.project
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
