"""The events of a project: their verbs, the frame every consumer of the log receives."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tasks.models import Activity


class Verb(StrEnum):
    """Every change to a project's data is one of these (API.md, "Activity event")."""

    PROJECT_UPDATED = "project.updated"
    MEMBER_ADDED = "member.added"
    MEMBER_UPDATED = "member.updated"
    MEMBER_REMOVED = "member.removed"
    COLUMN_CREATED = "column.created"
    COLUMN_UPDATED = "column.updated"
    COLUMN_DELETED = "column.deleted"
    LABEL_CREATED = "label.created"
    LABEL_UPDATED = "label.updated"
    LABEL_DELETED = "label.deleted"
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_MOVED = "task.moved"
    TASK_DELETED = "task.deleted"
    COMMENT_CREATED = "comment.created"
    COMMENT_UPDATED = "comment.updated"
    COMMENT_DELETED = "comment.deleted"
    SPRINT_CREATED = "sprint.created"
    SPRINT_UPDATED = "sprint.updated"
    SPRINT_STARTED = "sprint.started"
    SPRINT_COMPLETED = "sprint.completed"
    SPRINT_DELETED = "sprint.deleted"
    TIME_ENTRY_CREATED = "time_entry.created"
    TIME_ENTRY_UPDATED = "time_entry.updated"
    TIME_ENTRY_DELETED = "time_entry.deleted"


def event_frame(activity: Activity) -> dict[str, Any]:
    """The socket protocol's event frame (API.md "WebSocket" 3), from one activity row."""
    frame: dict[str, Any] = {
        "type": "event",
        "project": str(activity.project_id),
        "seq": activity.seq,
        "verb": activity.verb,
        "actor": str(activity.actor_id) if activity.actor_id else None,
        "target_type": activity.target_type,
        "target_id": activity.target_id,
        "changes": activity.changes,
        "at": activity.created_at.isoformat(),
    }
    if activity.data is not None:
        frame["data"] = activity.data
    return frame
