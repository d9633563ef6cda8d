"""The event schema: its version, the verbs and their targets, each target's snapshot."""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict

# 2: tasks carry `attachment_count`; attachment events.
SCHEMA_VERSION = 2


class Target(StrEnum):
    PROJECT = "project"
    MEMBER = "member"
    COLUMN = "column"
    LABEL = "label"
    TASK = "task"
    COMMENT = "comment"
    SPRINT = "sprint"
    TIME_ENTRY = "time_entry"
    ATTACHMENT = "attachment"


class Verb(StrEnum):
    """Every change to a project's data is one of these (docs/api.md, "Activity event")."""

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
    ATTACHMENT_CREATED = "attachment.created"
    ATTACHMENT_DELETED = "attachment.deleted"

    @property
    def target(self) -> Target:
        return Target(self.value.split(".")[0])

    @property
    def removes_target(self) -> bool:
        """The target is gone: the event carries no snapshot."""
        return self.value.endswith((".deleted", ".removed"))


# Snapshots: the target after the change, JSON primitives only (the Redis layer msgpacks
# events, the log stores them as JSON).


class UserSummary(TypedDict):
    id: str
    username: str
    full_name: str


class ProjectSnapshot(TypedDict):
    id: str
    name: str
    key: str
    description: str
    status: str
    owner: str
    last_seq: int
    created_at: str
    updated_at: str


class MemberSnapshot(TypedDict):
    user: str
    user_detail: UserSummary
    role: str
    joined_at: str


class ColumnSnapshot(TypedDict):
    id: str
    name: str
    position: int
    wip_limit: int | None
    is_done: bool


class LabelSnapshot(TypedDict):
    id: str
    name: str
    color: str


class TaskSnapshot(TypedDict):
    id: str
    project: str
    number: int
    key: str
    title: str
    description: str
    column: str
    position: int
    priority: str
    assignee: str | None
    assignee_detail: UserSummary | None
    creator: str | None
    labels: list[str]
    story_points: int | None
    estimate_minutes: int | None
    spent_minutes: int
    attachment_count: int
    due_date: str | None
    sprint: str | None
    parent: str | None
    is_done: bool
    completed_at: str | None
    created_at: str
    updated_at: str
    version: int


class CommentSnapshot(TypedDict):
    id: str
    task: str
    author: str | None
    author_detail: UserSummary | None
    body: str
    edited: bool
    created_at: str
    updated_at: str


class AttachmentSnapshot(TypedDict):
    id: str
    task: str
    uploader: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: str
    download_url: str
    thumbnail_url: str | None


class SprintSnapshot(TypedDict):
    id: str
    project: str
    name: str
    goal: str
    start_date: str | None
    end_date: str | None
    status: str
    committed_points: int | None
    completed_points: int | None
    created_at: str


class TimeEntrySnapshot(TypedDict):
    id: str
    task: str
    user: str | None
    started_at: str
    ended_at: str | None
    minutes: int
    note: str
    created_at: str
    updated_at: str


Snapshot = (
    ProjectSnapshot
    | MemberSnapshot
    | ColumnSnapshot
    | LabelSnapshot
    | TaskSnapshot
    | CommentSnapshot
    | SprintSnapshot
    | TimeEntrySnapshot
    | AttachmentSnapshot
)
