"""One snapshot builder per target type: the target after the change, field by field."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from accounts.models import User
from tasks.events.schema import (
    AttachmentSnapshot,
    ColumnSnapshot,
    CommentSnapshot,
    LabelSnapshot,
    MemberSnapshot,
    ProjectSnapshot,
    SprintSnapshot,
    TaskSnapshot,
    TimeEntrySnapshot,
    UserSummary,
)
from tasks.models import Attachment, Column, Comment, Label, Membership, Project, Sprint, Task, TimeEntry
from tasks.rules import elapsed_minutes


def user_summary(user: User) -> UserSummary:
    return summary_of(user.pk, user.username, user.full_name)


def summary_of(user_id: Any, username: str, full_name: str) -> UserSummary:
    return {"id": str(user_id), "username": username, "full_name": full_name}


def project_snapshot(project: Project, *, last_seq: int | None = None) -> ProjectSnapshot:
    """For everyone (no caller's role). `last_seq` counts the event being recorded when the
    snapshot is taken just before it."""
    return {
        "id": str(project.pk),
        "name": project.name,
        "key": project.key,
        "description": project.description,
        "status": project.status,
        "owner": str(project.owner_id),
        "last_seq": project.last_seq if last_seq is None else last_seq,
        "created_at": timestamp(project.created_at),
        "updated_at": timestamp(project.updated_at),
    }


def member_snapshot(membership: Membership) -> MemberSnapshot:
    return {
        "user": str(membership.user_id),
        "user_detail": user_summary(membership.user),
        "role": membership.role,
        "joined_at": timestamp(membership.joined_at),
    }


def column_snapshot(column: Column) -> ColumnSnapshot:
    return {
        "id": str(column.pk),
        "name": column.name,
        "position": column.position,
        "wip_limit": column.wip_limit,
        "is_done": column.is_done,
    }


def label_snapshot(label: Label) -> LabelSnapshot:
    return {"id": str(label.pk), "name": label.name, "color": label.color}


# The columns of a task row a snapshot reads, as `QuerySet.values()` names them, plus the
# related ones (TASK_ROW_RELATED): lists and boards read rows, not models (no model
# instances for a thousand tasks), and a model becomes the same row (task_row), so the
# two can never drift: one builder, task_snapshot_of_row.
TASK_ROW_FIELDS = (
    "id",
    "project_id",
    "number",
    "title",
    "description",
    "column_id",
    "position",
    "priority",
    "assignee_id",
    "creator_id",
    "story_points",
    "estimate_minutes",
    "spent_minutes",
    "attachment_count",
    "due_date",
    "sprint_id",
    "parent_id",
    "is_done",
    "completed_at",
    "created_at",
    "updated_at",
    "version",
)
TASK_ROW_RELATED = {
    "project_key": "project__key",
    "assignee_username": "assignee__username",
    "assignee_full_name": "assignee__full_name",
}


def task_row(task: Task) -> dict[str, Any]:
    """A model's row (`task.project` and `task.assignee` loaded)."""
    row = {name: getattr(task, name) for name in TASK_ROW_FIELDS}
    assignee = task.assignee if task.assignee_id is not None else None
    row["project_key"] = task.project.key
    row["assignee_username"] = assignee.username if assignee is not None else None
    row["assignee_full_name"] = assignee.full_name if assignee is not None else None
    return row


def task_snapshot(task: Task, *, label_ids: Iterable[Any], running_minutes: int) -> TaskSnapshot:
    """`task.project` and `task.assignee` loaded; `label_ids` and the minutes of timers
    running on it now come from the caller (selectors.prepare_tasks reads them for a whole
    list at once)."""
    return task_snapshot_of_row(task_row(task), label_ids=label_ids, running_minutes=running_minutes)


def task_snapshot_of_row(row: Mapping[str, Any], *, label_ids: Iterable[Any], running_minutes: int) -> TaskSnapshot:
    """The task as events and the REST API show it, from its row (TASK_ROW_FIELDS and
    TASK_ROW_RELATED)."""
    assignee_id = row["assignee_id"]
    due_date = row["due_date"]
    return {
        "id": str(row["id"]),
        "project": str(row["project_id"]),
        "number": row["number"],
        "key": f"{row['project_key']}-{row['number']}",
        "title": row["title"],
        "description": row["description"],
        "column": str(row["column_id"]),
        "position": row["position"],
        "priority": row["priority"],
        "assignee": optional_id(assignee_id),
        "assignee_detail": (
            summary_of(assignee_id, row["assignee_username"], row["assignee_full_name"])
            if assignee_id is not None
            else None
        ),
        "creator": optional_id(row["creator_id"]),
        "labels": sorted(str(pk) for pk in label_ids),
        "story_points": row["story_points"],
        "estimate_minutes": row["estimate_minutes"],
        "spent_minutes": row["spent_minutes"] + running_minutes,
        "attachment_count": row["attachment_count"],
        "due_date": due_date.isoformat() if due_date is not None else None,
        "sprint": optional_id(row["sprint_id"]),
        "parent": optional_id(row["parent_id"]),
        "is_done": row["is_done"],
        "completed_at": optional_timestamp(row["completed_at"]),
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
        "version": row["version"],
    }


def comment_snapshot(comment: Comment) -> CommentSnapshot:
    return {
        "id": str(comment.pk),
        "task": str(comment.task_id),
        "author": optional_id(comment.author_id),
        "author_detail": user_summary(comment.author) if comment.author is not None else None,
        "body": comment.body,
        "edited": comment.edited,
        "created_at": timestamp(comment.created_at),
        "updated_at": timestamp(comment.updated_at),
    }


def attachment_snapshot(attachment: Attachment) -> AttachmentSnapshot:
    return {
        "id": str(attachment.pk),
        "task": str(attachment.task_id),
        "uploader": optional_id(attachment.uploader_id),
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "created_at": timestamp(attachment.created_at),
        "download_url": attachment.download_url,
        "thumbnail_url": attachment.thumbnail_url,
    }


def sprint_snapshot(sprint: Sprint) -> SprintSnapshot:
    return {
        "id": str(sprint.pk),
        "project": str(sprint.project_id),
        "name": sprint.name,
        "goal": sprint.goal,
        "start_date": sprint.start_date.isoformat() if sprint.start_date is not None else None,
        "end_date": sprint.end_date.isoformat() if sprint.end_date is not None else None,
        "status": sprint.status,
        "committed_points": sprint.committed_points,
        "completed_points": sprint.completed_points,
        "created_at": timestamp(sprint.created_at),
    }


def time_entry_snapshot(entry: TimeEntry, *, now: datetime.datetime | None = None) -> TimeEntrySnapshot:
    """A running timer counts up to now (at most the 24 hours stopping it would record)."""
    minutes = entry.minutes
    if entry.ended_at is None:
        minutes = elapsed_minutes(entry.started_at, now or timezone.now())
    return {
        "id": str(entry.pk),
        "task": str(entry.task_id),
        "user": optional_id(entry.user_id),
        "started_at": timestamp(entry.started_at),
        "ended_at": optional_timestamp(entry.ended_at),
        "minutes": minutes,
        "note": entry.note,
        "created_at": timestamp(entry.created_at),
        "updated_at": timestamp(entry.updated_at),
    }


def optional_id(value: Any) -> str | None:
    return str(value) if value is not None else None


def timestamp(value: datetime.datetime) -> str:
    """ISO 8601 in UTC with `Z` for +00:00, microseconds kept (as DRF renders datetimes)."""
    text = value.astimezone(datetime.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def optional_timestamp(value: datetime.datetime | None) -> str | None:
    return timestamp(value) if value is not None else None
