"""Time entries, timers and the time report."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tasks import rules
from tasks.events import time_entry_snapshot
from tasks.models import TimeEntry
from tasks.serializers.common import rule_errors
from timetodo.inputs import StrictInput


class TimeEntrySerializer(serializers.ModelSerializer[TimeEntry]):
    class Meta:
        model = TimeEntry
        fields = ["id", "task", "user", "started_at", "ended_at", "minutes", "note", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, entry: TimeEntry) -> dict[str, Any]:
        return dict(time_entry_snapshot(entry))  # (a running timer counts up to now)


class TimeEntryCreateSerializer(StrictInput):
    task = serializers.UUIDField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(required=False)
    minutes = serializers.IntegerField(min_value=1, max_value=rules.MAX_ENTRY_MINUTES, required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        with rule_errors():
            rules.either_end_or_minutes(attrs, required=True)
        return attrs


class TimeEntryUpdateSerializer(StrictInput):
    started_at = serializers.DateTimeField(required=False)
    ended_at = serializers.DateTimeField(required=False)
    minutes = serializers.IntegerField(min_value=1, max_value=rules.MAX_ENTRY_MINUTES, required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        with rule_errors():
            rules.either_end_or_minutes(attrs, required=False)
        return attrs


class ReportRowSerializer(serializers.Serializer[dict[str, Any]]):
    key = serializers.CharField()
    # DRF pops declared fields off the class, so this does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    minutes = serializers.IntegerField()


class TimeReportSerializer(serializers.Serializer[dict[str, Any]]):
    total_minutes = serializers.IntegerField()
    rows = ReportRowSerializer(many=True)
