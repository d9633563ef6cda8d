"""Tasks, moves, bulk updates and comments."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tasks.events import comment_snapshot, task_snapshot
from tasks.models import COMMENT_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, Comment, Priority, Task
from tasks.serializers.common import UserSummarySerializer
from timetodo.inputs import StrictInput

# Output


class TaskSerializer(serializers.ModelSerializer[Task]):
    # Renders tasks.events.task_snapshot: boards serialize a thousand tasks per request, so
    # no field-by-field work (a test holds the two paths equal).
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
            "attachment_count",
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
        prepared: Any = task  # (selectors.prepare_tasks attached what the snapshot needs)
        return dict(task_snapshot(task, label_ids=prepared.label_ids, running_minutes=prepared.running_minutes))


class CommentSerializer(serializers.ModelSerializer[Comment]):
    author_detail = UserSummarySerializer(source="author", read_only=True, allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "task", "author", "author_detail", "body", "edited", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, comment: Comment) -> dict[str, Any]:
        return dict(comment_snapshot(comment))


# Input


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
