"""Projects, members, columns, labels, the board and the activity log."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tasks.events import column_snapshot, label_snapshot, member_snapshot, project_snapshot
from tasks.models import (
    COLOR_PATTERN,
    DESCRIPTION_MAX_LENGTH,
    PROJECT_KEY_PATTERN,
    Activity,
    Column,
    Label,
    Membership,
    Project,
    ProjectStatus,
    Role,
)
from tasks.serializers.common import UserSummarySerializer
from tasks.serializers.tasks import TaskSerializer
from timetodo.inputs import StrictInput

# Output


class ProjectSerializer(serializers.ModelSerializer[Project]):
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "key",
            "description",
            "status",
            "owner",
            "my_role",
            "last_seq",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_my_role(self, project: Project) -> str | None:
        # Annotated by the list selector, or given by the view for a single project.
        role = getattr(project, "my_role", None)
        return role if role is not None else self.context.get("role")

    def to_representation(self, project: Project) -> dict[str, Any]:
        return {**project_snapshot(project), "my_role": self.get_my_role(project)}


class MemberSerializer(serializers.ModelSerializer[Membership]):
    user_detail = UserSummarySerializer(source="user", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "user_detail", "role", "joined_at"]
        read_only_fields = fields

    def to_representation(self, membership: Membership) -> dict[str, Any]:
        return dict(member_snapshot(membership))


class ColumnSerializer(serializers.ModelSerializer[Column]):
    class Meta:
        model = Column
        fields = ["id", "name", "position", "wip_limit", "is_done"]
        read_only_fields = fields

    def to_representation(self, column: Column) -> dict[str, Any]:
        return dict(column_snapshot(column))


class LabelSerializer(serializers.ModelSerializer[Label]):
    class Meta:
        model = Label
        fields = ["id", "name", "color"]
        read_only_fields = fields

    def to_representation(self, label: Label) -> dict[str, Any]:
        return dict(label_snapshot(label))


class BoardColumnSerializer(ColumnSerializer):
    tasks = TaskSerializer(source="board_tasks", many=True, read_only=True)

    class Meta(ColumnSerializer.Meta):
        fields = [*ColumnSerializer.Meta.fields, "tasks"]
        read_only_fields = fields

    def to_representation(self, column: Column) -> dict[str, Any]:
        # selectors.board read the tasks as rows and built their snapshots already.
        return {**column_snapshot(column), "tasks": column.board_tasks}  # type: ignore[attr-defined]


class BoardSerializer(serializers.Serializer[dict[str, Any]]):
    project = ProjectSerializer()
    last_seq = serializers.IntegerField()
    columns = BoardColumnSerializer(many=True)


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    # Who, in words, for people reading the history (the web app's drawer); null once the
    # account is deleted. The selectors load the actor with the event.
    actor_detail = UserSummarySerializer(source="actor", read_only=True, allow_null=True)

    class Meta:
        model = Activity
        fields = [
            "seq",
            "schema_version",
            "verb",
            "actor",
            "actor_detail",
            "target_type",
            "target_id",
            "changes",
            "data",
            "created_at",
        ]
        read_only_fields = fields


# Input


class ProjectCreateSerializer(StrictInput):
    name = serializers.CharField(max_length=200)
    key = serializers.RegexField(
        PROJECT_KEY_PATTERN, max_length=10, error_messages={"invalid": "2-10 uppercase letters or digits."}
    )
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=ProjectStatus.choices, required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if hasattr(data, "get") and isinstance(data.get("key"), str):
            data = data.copy()  # a dict, or a form's QueryDict (browsable API)
            data["key"] = data["key"].strip().upper()
        return super().to_internal_value(data)


class ProjectUpdateSerializer(ProjectCreateSerializer):
    name = serializers.CharField(max_length=200, required=False)
    key = serializers.RegexField(
        PROJECT_KEY_PATTERN,
        max_length=10,
        required=False,
        error_messages={"invalid": "2-10 uppercase letters or digits."},
    )


class TransferSerializer(StrictInput):
    user = serializers.UUIDField()


class MemberAddSerializer(StrictInput):
    """Who: one of `email`, `username` (what people know of each other) or `user` (an id)."""

    email = serializers.EmailField(max_length=254, required=False)
    username = serializers.CharField(max_length=150, required=False)
    user = serializers.UUIDField(required=False)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)  # never "owner": 400 from the service

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("email", "username", "user") if attrs.get(name)]
        if not given:
            raise serializers.ValidationError({"email": ["Give the new member's email, username or user id."]})
        if len(given) > 1:
            raise serializers.ValidationError({given[1]: ["Give one of email, username or user id, not several."]})
        return attrs


class MemberUpdateSerializer(StrictInput):
    role = serializers.ChoiceField(choices=Role.choices)


class ColumnCreateSerializer(StrictInput):
    name = serializers.CharField(max_length=100)
    position = serializers.IntegerField(min_value=0, max_value=10_000, required=False)
    wip_limit = serializers.IntegerField(min_value=1, max_value=100_000, required=False, allow_null=True)
    is_done = serializers.BooleanField(required=False)


class ColumnUpdateSerializer(ColumnCreateSerializer):
    name = serializers.CharField(max_length=100, required=False)


class LabelCreateSerializer(StrictInput):
    name = serializers.CharField(max_length=50)
    color = serializers.RegexField(COLOR_PATTERN, max_length=7, error_messages={"invalid": "Use #rrggbb."})


class LabelUpdateSerializer(LabelCreateSerializer):
    name = serializers.CharField(max_length=50, required=False)
    color = serializers.RegexField(
        COLOR_PATTERN, max_length=7, required=False, error_messages={"invalid": "Use #rrggbb."}
    )
