"""Sprints: /api/v1/projects/{id}/sprints/, /api/v1/sprints/{id}/..., /api/v1/projects/{id}/velocity/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import selectors
from tasks.api.base import ProjectEndpoint, SprintEndpoint, query_param, validated
from tasks.models import Sprint
from tasks.permissions import Action
from tasks.serializers.sprints import (
    BurndownSerializer,
    SprintCompleteSerializer,
    SprintSerializer,
    SprintUpdateSerializer,
    SprintWriteSerializer,
    VelocitySerializer,
)
from tasks.services import sprints as sprint_services


class ProjectSprintsView(ProjectEndpoint):
    serializer_class = SprintSerializer
    queryset = Sprint.objects.none()  # for the schema; reads go through selectors
    actions = {"GET": Action.VIEW, "POST": Action.MANAGE_SPRINTS}

    @extend_schema(responses=SprintSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        page = self.paginate_queryset(selectors.sprints_of(project=self.project).order_by("created_at", "id"))
        return self.get_paginated_response(SprintSerializer(page, many=True).data)

    @extend_schema(request=SprintWriteSerializer, responses={201: SprintSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        values = validated(SprintWriteSerializer, request)
        sprint = sprint_services.sprint_create(actor=self.user, project_id=self.project.pk, values=values)
        return Response(SprintSerializer(sprint).data, status=status.HTTP_201_CREATED)


class SprintView(SprintEndpoint):
    serializer_class = SprintSerializer
    queryset = Sprint.objects.none()


class SprintDetailView(SprintView):
    actions = {"GET": Action.VIEW, "PATCH": Action.MANAGE_SPRINTS, "DELETE": Action.MANAGE_SPRINTS}

    def get(self, request: Request, sprint_id: Any) -> Response:
        return Response(SprintSerializer(self.sprint).data)

    @extend_schema(request=SprintUpdateSerializer, responses=SprintSerializer)
    def patch(self, request: Request, sprint_id: Any) -> Response:
        values = validated(SprintUpdateSerializer, request)
        sprint = sprint_services.sprint_update(actor=self.user, sprint_id=self.sprint.pk, values=values)
        return Response(SprintSerializer(sprint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, sprint_id: Any) -> Response:
        sprint_services.sprint_delete(actor=self.user, sprint_id=self.sprint.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SprintStartView(SprintView):
    actions = {"POST": Action.MANAGE_SPRINTS}

    @extend_schema(request=None, responses=SprintSerializer)
    def post(self, request: Request, sprint_id: Any) -> Response:
        sprint = sprint_services.sprint_start(actor=self.user, sprint_id=self.sprint.pk)
        return Response(SprintSerializer(sprint).data)


class SprintCompleteView(SprintView):
    actions = {"POST": Action.MANAGE_SPRINTS}

    @extend_schema(request=SprintCompleteSerializer, responses=SprintSerializer)
    def post(self, request: Request, sprint_id: Any) -> Response:
        values = validated(SprintCompleteSerializer, request)
        sprint = sprint_services.sprint_complete(
            actor=self.user, sprint_id=self.sprint.pk, move_open_tasks_to=values.get("move_open_tasks_to")
        )
        return Response(SprintSerializer(sprint).data)


# Bodies with floats keep DRF's renderer: orjson writes exponents its own way (1e-05 as
# 1e-5), and the bytes stay what they were (tests/timetodo/test_renderers.py checks).
FLOAT_RENDERERS = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer]


class SprintBurndownView(SprintView):
    actions = {"GET": Action.VIEW}
    renderer_classes = FLOAT_RENDERERS

    @extend_schema(responses=BurndownSerializer)
    def get(self, request: Request, sprint_id: Any) -> Response:
        return Response(BurndownSerializer(selectors.burndown(sprint=self.sprint)).data)


class ProjectVelocityView(ProjectEndpoint):
    actions = {"GET": Action.VIEW}
    renderer_classes = FLOAT_RENDERERS

    @extend_schema(parameters=[OpenApiParameter("last", int)], responses=VelocitySerializer)
    def get(self, request: Request, project_id: Any) -> Response:
        last = query_param(request, "last", serializers.IntegerField(min_value=1, max_value=100)) or 5
        return Response(VelocitySerializer(selectors.velocity(project=self.project, last=last)).data)
