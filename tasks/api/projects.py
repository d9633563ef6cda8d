"""/api/v1/projects/...: projects, members, columns, labels, board, activity."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import selectors
from tasks.api.base import Endpoint, ProjectEndpoint, not_modified, query_param, validated, with_etag
from tasks.filters import ProjectFilter, SchemaFilterBackend
from tasks.models import Activity, Column, Label, Membership, Project, Role
from tasks.permissions import Action
from tasks.serializers.projects import (
    ActivitySerializer,
    BoardSerializer,
    ColumnCreateSerializer,
    ColumnSerializer,
    ColumnUpdateSerializer,
    LabelCreateSerializer,
    LabelSerializer,
    LabelUpdateSerializer,
    MemberAddSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    TransferSerializer,
)
from tasks.services import boards, members, projects


class ProjectListView(Endpoint):
    serializer_class = ProjectSerializer
    queryset = Project.objects.none()  # for the schema; reads go through selectors
    filterset_class = ProjectFilter
    filter_backends = [SchemaFilterBackend]
    actions = {"GET": None, "POST": None}  # your own projects; anyone may create one

    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.projects_for_user(user=self.user, filters=request.query_params))
        return self.get_paginated_response(ProjectSerializer(page, many=True).data)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        values = validated(ProjectCreateSerializer, request)
        project = projects.project_create(actor=self.user, **values)
        body = ProjectSerializer(project, context={"role": Role.OWNER}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectEndpoint):
    actions = {"GET": Action.VIEW, "PATCH": Action.EDIT_PROJECT, "DELETE": Action.DELETE_PROJECT}

    @extend_schema(responses=ProjectSerializer)
    def get(self, request: Request, project_id: Any) -> Response:
        return Response(ProjectSerializer(self.project, context={"role": self.role}).data)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def patch(self, request: Request, project_id: Any) -> Response:
        values = validated(ProjectUpdateSerializer, request)
        project = projects.project_update(actor=self.user, project_id=self.project.pk, values=values)
        return Response(ProjectSerializer(project, context={"role": self.role}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: Any) -> Response:
        projects.project_delete(actor=self.user, project_id=self.project.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectTransferView(ProjectEndpoint):
    actions = {"POST": Action.TRANSFER_PROJECT}

    @extend_schema(request=TransferSerializer, responses=ProjectSerializer)
    def post(self, request: Request, project_id: Any) -> Response:
        values = validated(TransferSerializer, request)
        project = projects.project_transfer(actor=self.user, project_id=self.project.pk, new_owner_id=values["user"])
        return Response(ProjectSerializer(project, context={"role": Role.ADMIN}).data)


class MemberListView(ProjectEndpoint):
    serializer_class = MemberSerializer
    queryset = Membership.objects.none()
    actions = {"GET": Action.VIEW, "POST": Action.ADD_MEMBERS}

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        page = self.paginate_queryset(selectors.members_of(project=self.project))
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(request=MemberAddSerializer, responses={201: MemberSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        values = validated(MemberAddSerializer, request)
        membership = members.member_add(
            actor=self.user,
            project_id=self.project.pk,
            email=values.get("email"),
            username=values.get("username"),
            user_id=values.get("user"),
            role=values["role"],
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(ProjectEndpoint):
    # Removing: anyone may leave; the service checks who may remove whom.
    actions = {"PATCH": Action.CHANGE_ROLES, "DELETE": Action.VIEW}

    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer)
    def patch(self, request: Request, project_id: Any, user_id: Any) -> Response:
        values = validated(MemberUpdateSerializer, request)
        membership = members.member_update(
            actor=self.user, project_id=self.project.pk, user_id=selectors.uuid_or_404(user_id), role=values["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: Any, user_id: Any) -> Response:
        members.member_remove(actor=self.user, project_id=self.project.pk, user_id=selectors.uuid_or_404(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ColumnListView(ProjectEndpoint):
    serializer_class = ColumnSerializer
    queryset = Column.objects.none()
    actions = {"GET": Action.VIEW, "POST": Action.MANAGE_COLUMNS}

    @extend_schema(responses=ColumnSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        page = self.paginate_queryset(selectors.columns_of(project=self.project))
        return self.get_paginated_response(ColumnSerializer(page, many=True).data)

    @extend_schema(request=ColumnCreateSerializer, responses={201: ColumnSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        values = validated(ColumnCreateSerializer, request)
        column = boards.column_create(actor=self.user, project_id=self.project.pk, values=values)
        return Response(ColumnSerializer(column).data, status=status.HTTP_201_CREATED)


class ColumnDetailView(ProjectEndpoint):
    actions = {"PATCH": Action.MANAGE_COLUMNS, "DELETE": Action.MANAGE_COLUMNS}

    @extend_schema(request=ColumnUpdateSerializer, responses=ColumnSerializer)
    def patch(self, request: Request, project_id: Any, column_id: Any) -> Response:
        values = validated(ColumnUpdateSerializer, request)
        column = boards.column_update(
            actor=self.user, project_id=self.project.pk, column_id=selectors.uuid_or_404(column_id), values=values
        )
        return Response(ColumnSerializer(column).data)

    @extend_schema(parameters=[OpenApiParameter("move_to", OpenApiTypes.UUID)], responses={204: None})
    def delete(self, request: Request, project_id: Any, column_id: Any) -> Response:
        move_to = query_param(request, "move_to", serializers.UUIDField())
        boards.column_delete(
            actor=self.user, project_id=self.project.pk, column_id=selectors.uuid_or_404(column_id), move_to=move_to
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelListView(ProjectEndpoint):
    serializer_class = LabelSerializer
    queryset = Label.objects.none()
    actions = {"GET": Action.VIEW, "POST": Action.MANAGE_LABELS}

    @extend_schema(responses=LabelSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        page = self.paginate_queryset(selectors.labels_of(project=self.project))
        return self.get_paginated_response(LabelSerializer(page, many=True).data)

    @extend_schema(request=LabelCreateSerializer, responses={201: LabelSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        values = validated(LabelCreateSerializer, request)
        label = boards.label_create(actor=self.user, project_id=self.project.pk, **values)
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)


class LabelDetailView(ProjectEndpoint):
    actions = {"PATCH": Action.MANAGE_LABELS, "DELETE": Action.MANAGE_LABELS}

    @extend_schema(request=LabelUpdateSerializer, responses=LabelSerializer)
    def patch(self, request: Request, project_id: Any, label_id: Any) -> Response:
        values = validated(LabelUpdateSerializer, request)
        label = boards.label_update(
            actor=self.user, project_id=self.project.pk, label_id=selectors.uuid_or_404(label_id), values=values
        )
        return Response(LabelSerializer(label).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: Any, label_id: Any) -> Response:
        boards.label_delete(actor=self.user, project_id=self.project.pk, label_id=selectors.uuid_or_404(label_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BoardView(ProjectEndpoint):
    actions = {"GET": Action.VIEW}

    @extend_schema(responses=BoardSerializer)
    def get(self, request: Request, project_id: Any) -> Response:
        version = selectors.board_version(user=self.user, project=self.project)
        if (unchanged := not_modified(request, version.etag)) is not None:
            return unchanged
        columns = selectors.board(project=self.project, timers=version.timers_running)
        body = BoardSerializer(
            {"project": self.project, "last_seq": self.project.last_seq, "columns": columns},
            context={"role": self.role},
        ).data
        return with_etag(Response(body), version.etag)


class ProjectActivityView(ProjectEndpoint):
    serializer_class = ActivitySerializer
    queryset = Activity.objects.none()
    actions = {"GET": Action.VIEW}

    @extend_schema(parameters=[OpenApiParameter("since", int)], responses=ActivitySerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        since_seq = query_param(request, "since", serializers.IntegerField(min_value=0))
        page = self.paginate_queryset(selectors.activity_of_project(project=self.project, since=since_seq))
        return self.get_paginated_response(ActivitySerializer(page, many=True).data)
