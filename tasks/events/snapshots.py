"""One snapshot builder per target type: the target after the change, field by field."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from accounts.models import User
from tasks.events.schema import (
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
from tasks.models import Column, Comment, Label, Membership, Project, Sprint, Task, TimeEntry
from tasks.rules import elapsed_minutes


def user_summary(user: User) -> UserSummary:
    return {"id": str(user.pk), "username": user.username, "full_name": user.full_name}


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


def task_snapshot(task: Task, *, label_ids: Iterable[Any], running_minutes: int) -> TaskSnapshot:
    """`task.project` and `task.assignee` loaded; `label_ids` and the minutes of timers
    running on it now come from the caller (selectors.prepare_tasks reads them for a whole
    list in two queries)."""
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
        "assignee": optional_id(task.assignee_id),
        "assignee_detail": user_summary(task.assignee) if task.assignee is not None else None,
        "creator": optional_id(task.creator_id),
        "labels": sorted(str(pk) for pk in label_ids),
        "story_points": task.story_points,
        "estimate_minutes": task.estimate_minutes,
        "spent_minutes": task.spent_minutes + running_minutes,
        "due_date": task.due_date.isoformat() if task.due_date is not None else None,
        "sprint": optional_id(task.sprint_id),
        "parent": optional_id(task.parent_id),
        "is_done": task.is_done,
        "completed_at": optional_timestamp(task.completed_at),
        "created_at": timestamp(task.created_at),
        "updated_at": timestamp(task.updated_at),
        "version": task.version,
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
