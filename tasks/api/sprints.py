"""Sprints: /api/v1/projects/{id}/sprints/, /api/v1/sprints/{id}/..., /api/v1/projects/{id}/velocity/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from tasks import selectors
from tasks.api.base import ProjectScopedView, query_param, validated
from tasks.models import Role, Sprint
from tasks.serializers import (
    BurndownSerializer,
    SprintCompleteSerializer,
    SprintSerializer,
    SprintUpdateSerializer,
    SprintWriteSerializer,
    VelocitySerializer,
)
from tasks.services import sprints as sprint_services
from tasks.services.common import require_role


class ProjectSprintsView(ProjectScopedView):
    serializer_class = SprintSerializer
    queryset = Sprint.objects.none()  # for the schema; reads go through selectors

    @extend_schema(responses=SprintSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id)
        page = self.paginate_queryset(selectors.sprints_of(project=project).order_by("created_at", "id"))
        return self.get_paginated_response(SprintSerializer(page, many=True).data)

    @extend_schema(request=SprintWriteSerializer, responses={201: SprintSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.ADMIN, action="manage sprints")
        values = validated(SprintWriteSerializer, request)
        sprint = sprint_services.sprint_create(actor=request_user(request), project_id=project.pk, values=values)
        return Response(SprintSerializer(sprint).data, status=status.HTTP_201_CREATED)


class SprintView(GenericAPIView[Sprint]):
    serializer_class = SprintSerializer
    queryset = Sprint.objects.none()

    def sprint(self, sprint_id: Any, minimum: str | None = None) -> Sprint:
        sprint, role = selectors.sprint_for_user(user=request_user(self.request), sprint_id=sprint_id)
        if minimum is not None:
            require_role(role, minimum, "manage sprints")
        return sprint


class SprintDetailView(SprintView):
    def get(self, request: Request, sprint_id: Any) -> Response:
        return Response(SprintSerializer(self.sprint(sprint_id)).data)

    @extend_schema(request=SprintUpdateSerializer, responses=SprintSerializer)
    def patch(self, request: Request, sprint_id: Any) -> Response:
        sprint = self.sprint(sprint_id, Role.ADMIN)
        values = validated(SprintUpdateSerializer, request)
        sprint = sprint_services.sprint_update(actor=request_user(request), sprint_id=sprint.pk, values=values)
        return Response(SprintSerializer(sprint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, sprint_id: Any) -> Response:
        sprint = self.sprint(sprint_id, Role.ADMIN)
        sprint_services.sprint_delete(actor=request_user(request), sprint_id=sprint.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SprintStartView(SprintView):
    @extend_schema(request=None, responses=SprintSerializer)
    def post(self, request: Request, sprint_id: Any) -> Response:
        sprint = self.sprint(sprint_id, Role.ADMIN)
        sprint = sprint_services.sprint_start(actor=request_user(request), sprint_id=sprint.pk)
        return Response(SprintSerializer(sprint).data)


class SprintCompleteView(SprintView):
    @extend_schema(request=SprintCompleteSerializer, responses=SprintSerializer)
    def post(self, request: Request, sprint_id: Any) -> Response:
        sprint = self.sprint(sprint_id, Role.ADMIN)
        values = validated(SprintCompleteSerializer, request)
        sprint = sprint_services.sprint_complete(
            actor=request_user(request), sprint_id=sprint.pk, move_open_tasks_to=values.get("move_open_tasks_to")
        )
        return Response(SprintSerializer(sprint).data)


class SprintBurndownView(SprintView):
    @extend_schema(responses=BurndownSerializer)
    def get(self, request: Request, sprint_id: Any) -> Response:
        return Response(BurndownSerializer(selectors.burndown(sprint=self.sprint(sprint_id))).data)


class ProjectVelocityView(ProjectScopedView):
    @extend_schema(parameters=[OpenApiParameter("last", int)], responses=VelocitySerializer)
    def get(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id)
        last = query_param(request, "last", serializers.IntegerField(min_value=1, max_value=100)) or 5
        return Response(VelocitySerializer(selectors.velocity(project=project, last=last)).data)
