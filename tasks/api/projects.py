"""/api/v1/projects/...: projects, members, columns, labels, board, activity."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from tasks import selectors
from tasks.api.base import ProjectScopedView, query_param, validated
from tasks.models import Activity, Column, Label, Membership, Project, Role
from tasks.serializers import (
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
from timetodo.errors import Invalid


class ProjectListView(ProjectScopedView):
    serializer_class = ProjectSerializer
    queryset = Project.objects.none()  # for the schema; reads go through selectors

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=["active", "on_hold", "completed", "archived"])],
        responses=ProjectSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        projects_qs = selectors.projects_for_user(user=user).annotate(my_role=F("memberships__role"))
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in {"active", "on_hold", "completed", "archived"}:
                raise Invalid({"status": ["Use active, on_hold, completed or archived."]})
            projects_qs = projects_qs.filter(status=wanted)
        page = self.paginate_queryset(projects_qs.order_by("name", "id"))
        return self.get_paginated_response(ProjectSerializer(page, many=True).data)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        values = validated(ProjectCreateSerializer, request)
        project = projects.project_create(actor=request_user(request), **values)
        body = ProjectSerializer(project, context={"role": Role.OWNER}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectScopedView):
    @extend_schema(responses=ProjectSerializer)
    def get(self, request: Request, project_id: Any) -> Response:
        project, role = self.project_and_role(project_id)
        return Response(ProjectSerializer(project, context={"role": role}).data)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def patch(self, request: Request, project_id: Any) -> Response:
        project, role = self.project_and_role(project_id, minimum=Role.ADMIN, action="edit the project")
        values = validated(ProjectUpdateSerializer, request)
        project = projects.project_update(actor=request_user(request), project_id=project.pk, role=role, values=values)
        return Response(ProjectSerializer(project, context={"role": role}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.OWNER, action="delete the project")
        projects.project_delete(actor=request_user(request), project_id=project.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectTransferView(ProjectScopedView):
    @extend_schema(request=TransferSerializer, responses=ProjectSerializer)
    def post(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.OWNER, action="transfer the project")
        values = validated(TransferSerializer, request)
        project = projects.project_transfer(
            actor=request_user(request), project_id=project.pk, new_owner_id=values["user"]
        )
        return Response(ProjectSerializer(project, context={"role": Role.ADMIN}).data)


class MemberListView(ProjectScopedView):
    serializer_class = MemberSerializer
    queryset = Membership.objects.none()

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id)
        page = self.paginate_queryset(selectors.members_of(project=project))
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(request=MemberAddSerializer, responses={201: MemberSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        project, role = self.project_and_role(project_id, minimum=Role.ADMIN, action="add members")
        values = validated(MemberAddSerializer, request)
        membership = members.member_add(
            actor=request_user(request),
            actor_role=role,
            project_id=project.pk,
            email=values.get("email"),
            user_id=values.get("user"),
            role=values["role"],
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(ProjectScopedView):
    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer)
    def patch(self, request: Request, project_id: Any, user_id: Any) -> Response:
        project, role = self.project_and_role(project_id, minimum=Role.ADMIN, action="change roles")
        values = validated(MemberUpdateSerializer, request)
        membership = members.member_update(
            actor=request_user(request),
            actor_role=role,
            project_id=project.pk,
            user_id=selectors.uuid_or_404(user_id),
            role=values["role"],
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: Any, user_id: Any) -> Response:
        project, role = self.project_and_role(project_id)
        members.member_remove(
            actor=request_user(request), actor_role=role, project_id=project.pk, user_id=selectors.uuid_or_404(user_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ColumnListView(ProjectScopedView):
    serializer_class = ColumnSerializer
    queryset = Column.objects.none()

    @extend_schema(responses=ColumnSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id)
        page = self.paginate_queryset(selectors.columns_of(project=project))
        return self.get_paginated_response(ColumnSerializer(page, many=True).data)

    @extend_schema(request=ColumnCreateSerializer, responses={201: ColumnSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.ADMIN, action="manage columns")
        values = validated(ColumnCreateSerializer, request)
        column = boards.column_create(actor=request_user(request), project_id=project.pk, values=values)
        return Response(ColumnSerializer(column).data, status=status.HTTP_201_CREATED)


class ColumnDetailView(ProjectScopedView):
    @extend_schema(request=ColumnUpdateSerializer, responses=ColumnSerializer)
    def patch(self, request: Request, project_id: Any, column_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.ADMIN, action="manage columns")
        values = validated(ColumnUpdateSerializer, request)
        column = boards.column_update(
            actor=request_user(request),
            project_id=project.pk,
            column_id=selectors.uuid_or_404(column_id),
            values=values,
        )
        return Response(ColumnSerializer(column).data)

    @extend_schema(parameters=[OpenApiParameter("move_to", OpenApiTypes.UUID)], responses={204: None})
    def delete(self, request: Request, project_id: Any, column_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.ADMIN, action="manage columns")
        move_to = query_param(request, "move_to", serializers.UUIDField())
        boards.column_delete(
            actor=request_user(request),
            project_id=project.pk,
            column_id=selectors.uuid_or_404(column_id),
            move_to=move_to,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelListView(ProjectScopedView):
    serializer_class = LabelSerializer
    queryset = Label.objects.none()

    @extend_schema(responses=LabelSerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id)
        page = self.paginate_queryset(selectors.labels_of(project=project))
        return self.get_paginated_response(LabelSerializer(page, many=True).data)

    @extend_schema(request=LabelCreateSerializer, responses={201: LabelSerializer})
    def post(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.MEMBER, action="manage labels")
        values = validated(LabelCreateSerializer, request)
        label = boards.label_create(actor=request_user(request), project_id=project.pk, **values)
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)


class LabelDetailView(ProjectScopedView):
    @extend_schema(request=LabelUpdateSerializer, responses=LabelSerializer)
    def patch(self, request: Request, project_id: Any, label_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.MEMBER, action="manage labels")
        values = validated(LabelUpdateSerializer, request)
        label = boards.label_update(
            actor=request_user(request), project_id=project.pk, label_id=selectors.uuid_or_404(label_id), values=values
        )
        return Response(LabelSerializer(label).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: Any, label_id: Any) -> Response:
        project, _ = self.project_and_role(project_id, minimum=Role.MEMBER, action="manage labels")
        boards.label_delete(
            actor=request_user(request), project_id=project.pk, label_id=selectors.uuid_or_404(label_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BoardView(ProjectScopedView):
    @extend_schema(responses=BoardSerializer)
    def get(self, request: Request, project_id: Any) -> Response:
        project, role = self.project_and_role(project_id)
        columns = selectors.board(project=project)
        body = BoardSerializer(
            {"project": project, "last_seq": project.last_seq, "columns": columns}, context={"role": role}
        ).data
        return Response(body)


class ProjectActivityView(ProjectScopedView):
    serializer_class = ActivitySerializer
    queryset = Activity.objects.none()

    @extend_schema(parameters=[OpenApiParameter("since", int)], responses=ActivitySerializer(many=True))
    def get(self, request: Request, project_id: Any) -> Response:
        project, _ = self.project_and_role(project_id)
        since_seq = query_param(request, "since", serializers.IntegerField(min_value=0))
        page = self.paginate_queryset(selectors.activity_of_project(project=project, since=since_seq))
        return self.get_paginated_response(ActivitySerializer(page, many=True).data)
