"""Input and output shapes of the projects/tasks API. No queries: selectors load what these read."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from tasks.models import (
    COMMENT_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    PROJECT_KEY_PATTERN,
    Activity,
    Column,
    Comment,
    Label,
    Membership,
    Priority,
    Project,
    ProjectStatus,
    Role,
    Sprint,
    Task,
    TimeEntry,
)
from timetodo.inputs import StrictInput

# Output


class UserSummarySerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "full_name"]
        read_only_fields = fields


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


class MemberSerializer(serializers.ModelSerializer[Membership]):
    user_detail = UserSummarySerializer(source="user", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "user_detail", "role", "joined_at"]
        read_only_fields = fields


class ColumnSerializer(serializers.ModelSerializer[Column]):
    class Meta:
        model = Column
        fields = ["id", "name", "position", "wip_limit", "is_done"]
        read_only_fields = fields


class LabelSerializer(serializers.ModelSerializer[Label]):
    class Meta:
        model = Label
        fields = ["id", "name", "color"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer[Task]):
    key = serializers.CharField(read_only=True)
    labels = serializers.SerializerMethodField()
    assignee_detail = UserSummarySerializer(source="assignee", read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "project",
            "number",
            "key",
            "title",
            "description",
            "column",
            "position",
            "priority",
            "assignee",
            "assignee_detail",
            "creator",
            "labels",
            "story_points",
            "estimate_minutes",
            "spent_minutes",
            "due_date",
            "sprint",
            "parent",
            "is_done",
            "completed_at",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_labels(self, task: Task) -> list[str]:
        # Attached by selectors.prepare_tasks: no query here.
        return sorted(str(pk) for pk in task.label_ids)  # type: ignore[attr-defined]

    def to_representation(self, task: Task) -> dict[str, Any]:
        """The same output as DRF's field-by-field path (a test holds them equal), written
        out directly: boards serialize a thousand tasks per request."""
        assignee = task.assignee if task.assignee_id is not None else None
        return {
            "id": str(task.pk),
            "project": str(task.project_id),
            "number": task.number,
            "key": task.key,
            "title": task.title,
            "description": task.description,
            "column": str(task.column_id),
            "position": task.position,
            "priority": task.priority,
            "assignee": _uuid(task.assignee_id),
            "assignee_detail": (
                {"id": str(assignee.pk), "username": assignee.username, "full_name": assignee.full_name}
                if assignee is not None
                else None
            ),
            "creator": _uuid(task.creator_id),
            "labels": self.get_labels(task),
            "story_points": task.story_points,
            "estimate_minutes": task.estimate_minutes,
            "spent_minutes": task.spent_minutes + getattr(task, "running_minutes", 0),
            "due_date": task.due_date.isoformat() if task.due_date is not None else None,
            "sprint": _uuid(task.sprint_id),
            "parent": _uuid(task.parent_id),
            "is_done": task.is_done,
            "completed_at": _datetime(task.completed_at),
            "created_at": _datetime(task.created_at),
            "updated_at": _datetime(task.updated_at),
            "version": task.version,
        }


def _uuid(value: Any) -> str | None:
    return str(value) if value is not None else None


def _datetime(value: datetime.datetime | None) -> str | None:
    """As DRF renders datetimes: ISO 8601 in UTC, with `Z` for +00:00."""
    if value is None:
        return None
    text = value.astimezone(datetime.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class BoardColumnSerializer(ColumnSerializer):
    tasks = TaskSerializer(source="board_tasks", many=True, read_only=True)

    class Meta(ColumnSerializer.Meta):
        fields = [*ColumnSerializer.Meta.fields, "tasks"]
        read_only_fields = fields


class BoardSerializer(serializers.Serializer[dict[str, Any]]):
    project = ProjectSerializer()
    last_seq = serializers.IntegerField()
    columns = BoardColumnSerializer(many=True)


class CommentSerializer(serializers.ModelSerializer[Comment]):
    author_detail = UserSummarySerializer(source="author", read_only=True, allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "task", "author", "author_detail", "body", "edited", "created_at", "updated_at"]
        read_only_fields = fields


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    class Meta:
        model = Activity
        fields = ["seq", "verb", "actor", "target_type", "target_id", "changes", "data", "created_at"]
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
    email = serializers.EmailField(max_length=254, required=False)
    user = serializers.UUIDField(required=False)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)  # never "owner": 400 from the service

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("email") and not attrs.get("user"):
            raise serializers.ValidationError({"email": ["Give the new member's email or user id."]})
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
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}\Z", max_length=7, error_messages={"invalid": "Use #rrggbb."})


class LabelUpdateSerializer(LabelCreateSerializer):
    name = serializers.CharField(max_length=50, required=False)
    color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}\Z", max_length=7, required=False, error_messages={"invalid": "Use #rrggbb."}
    )


class TaskFieldsSerializer(StrictInput):
    """The writable task fields; references are ids, checked against the project by the service."""

    title = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    column = serializers.UUIDField(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = serializers.UUIDField(required=False, allow_null=True)
    labels = serializers.ListField(child=serializers.UUIDField(), max_length=50, required=False)
    story_points = serializers.IntegerField(min_value=0, max_value=1000, required=False, allow_null=True)
    estimate_minutes = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    sprint = serializers.UUIDField(required=False, allow_null=True)
    # DRF pops declared fields off the class, so this does not shadow Field.parent.
    parent = serializers.UUIDField(required=False, allow_null=True)  # type: ignore[assignment]


class TaskCreateSerializer(TaskFieldsSerializer):
    project = serializers.UUIDField()


class TaskUpdateSerializer(TaskFieldsSerializer):
    title = serializers.CharField(max_length=255, required=False)
    version = serializers.IntegerField(min_value=1, required=False)


class TaskMoveSerializer(StrictInput):
    column = serializers.UUIDField()
    before = serializers.UUIDField(required=False, allow_null=True)
    after = serializers.UUIDField(required=False, allow_null=True)
    version = serializers.IntegerField(min_value=1, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("before") and attrs.get("after"):
            raise serializers.ValidationError({"before": ["Give before or after, not both."]})
        return attrs


class BulkSetSerializer(StrictInput):
    column = serializers.UUIDField(required=False)
    assignee = serializers.UUIDField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    sprint = serializers.UUIDField(required=False, allow_null=True)
    labels_add = serializers.ListField(child=serializers.UUIDField(), max_length=50, required=False)
    labels_remove = serializers.ListField(child=serializers.UUIDField(), max_length=50, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Nothing to set.")
        return attrs


class BulkSerializer(StrictInput):
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=200)
    set = BulkSetSerializer()


class CommentWriteSerializer(StrictInput):
    body = serializers.CharField(max_length=COMMENT_MAX_LENGTH)


# Sprints


class SprintSerializer(serializers.ModelSerializer[Sprint]):
    class Meta:
        model = Sprint
        fields = [
            "id",
            "project",
            "name",
            "goal",
            "start_date",
            "end_date",
            "status",
            "committed_points",
            "completed_points",
            "created_at",
        ]
        read_only_fields = fields


class SprintWriteSerializer(StrictInput):
    name = serializers.CharField(max_length=100)
    goal = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_sprint_dates(attrs.get("start_date"), attrs.get("end_date"))
        return attrs


MAX_SPRINT_DAYS = 366


def check_sprint_dates(start: Any, end: Any) -> None:
    if start and end and end < start:
        raise serializers.ValidationError({"end_date": ["The end date is before the start date."]})
    if start and end and (end - start).days >= MAX_SPRINT_DAYS:
        raise serializers.ValidationError({"end_date": [f"A sprint lasts at most {MAX_SPRINT_DAYS} days."]})


class SprintUpdateSerializer(SprintWriteSerializer):
    name = serializers.CharField(max_length=100, required=False)


class SprintCompleteSerializer(StrictInput):
    move_open_tasks_to = serializers.UUIDField(required=False, allow_null=True)


class BurndownSerializer(serializers.Serializer[dict[str, Any]]):
    dates = serializers.ListField(child=serializers.DateField())
    ideal = serializers.ListField(child=serializers.FloatField())
    remaining = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    total_points = serializers.IntegerField()


class VelocitySprintSerializer(serializers.Serializer[dict[str, Any]]):
    sprint = serializers.UUIDField()
    name = serializers.CharField()
    committed_points = serializers.IntegerField(allow_null=True)
    completed_points = serializers.IntegerField(allow_null=True)


class VelocitySerializer(serializers.Serializer[dict[str, Any]]):
    sprints = VelocitySprintSerializer(many=True)
    average = serializers.FloatField(allow_null=True)


# Time tracking


class TimeEntrySerializer(serializers.ModelSerializer[TimeEntry]):
    class Meta:
        model = TimeEntry
        fields = ["id", "task", "user", "started_at", "ended_at", "minutes", "note", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, entry: TimeEntry) -> dict[str, Any]:
        data = super().to_representation(entry)
        if entry.ended_at is None:  # a running timer counts up to now (at most its 24 hours)
            elapsed = int((timezone.now() - entry.started_at).total_seconds() // 60)
            data["minutes"] = min(MAX_ENTRY_MINUTES, max(0, elapsed))
        return data


MAX_ENTRY_MINUTES = 24 * 60


class TimeEntryCreateSerializer(StrictInput):
    task = serializers.UUIDField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(required=False)
    minutes = serializers.IntegerField(min_value=1, max_value=MAX_ENTRY_MINUTES, required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ended_at" in attrs) == ("minutes" in attrs):
            raise serializers.ValidationError({"ended_at": ["Give either ended_at or minutes."]})
        return attrs


class TimeEntryUpdateSerializer(StrictInput):
    started_at = serializers.DateTimeField(required=False)
    ended_at = serializers.DateTimeField(required=False)
    minutes = serializers.IntegerField(min_value=1, max_value=MAX_ENTRY_MINUTES, required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "ended_at" in attrs and "minutes" in attrs:
            raise serializers.ValidationError({"ended_at": ["Give either ended_at or minutes."]})
        return attrs


class ReportRowSerializer(serializers.Serializer[dict[str, Any]]):
    key = serializers.CharField()
    # DRF pops declared fields off the class, so this does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    minutes = serializers.IntegerField()


class TimeReportSerializer(serializers.Serializer[dict[str, Any]]):
    total_minutes = serializers.IntegerField()
    rows = ReportRowSerializer(many=True)
