"""Sprints, burndown and velocity."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tasks import rules
from tasks.events import sprint_snapshot
from tasks.models import DESCRIPTION_MAX_LENGTH, Sprint
from tasks.serializers.common import rule_errors
from timetodo.inputs import StrictInput


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

    def to_representation(self, sprint: Sprint) -> dict[str, Any]:
        return dict(sprint_snapshot(sprint))


class SprintWriteSerializer(StrictInput):
    name = serializers.CharField(max_length=100)
    goal = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        with rule_errors():
            rules.check_sprint_dates(attrs.get("start_date"), attrs.get("end_date"))
        return attrs


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
