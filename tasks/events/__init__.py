"""The events of a project: a public, versioned schema.

Every change to a project's data is one event: a verb, its target, the changed fields
(`{"field": [old, new]}`) and, unless the target was deleted, a snapshot of the target
after the change. The same event is the activity log's row, the socket frame, and (soon)
the webhook body, so its shape is written out here, field by field, and owes nothing to
the REST serializers: renaming an API field cannot change history, burndown or webhook
bodies. The REST serializers reuse these snapshots, never the other way round.

A change of a snapshot's fields is a new SCHEMA_VERSION; each row keeps the version it
was written with, and its frame says so.
"""

from tasks.events.log import emit, event_frame
from tasks.events.schema import (
    SCHEMA_VERSION,
    AttachmentSnapshot,
    ColumnSnapshot,
    CommentSnapshot,
    LabelSnapshot,
    MemberSnapshot,
    ProjectSnapshot,
    Snapshot,
    SprintSnapshot,
    Target,
    TaskSnapshot,
    TimeEntrySnapshot,
    UserSummary,
    Verb,
)
from tasks.events.snapshots import (
    TASK_ROW_FIELDS,
    TASK_ROW_RELATED,
    attachment_snapshot,
    column_snapshot,
    comment_snapshot,
    label_snapshot,
    member_snapshot,
    project_snapshot,
    sprint_snapshot,
    task_snapshot,
    task_snapshot_of_row,
    time_entry_snapshot,
    timestamp,
    user_summary,
)

__all__ = [
    "SCHEMA_VERSION",
    "TASK_ROW_FIELDS",
    "TASK_ROW_RELATED",
    "AttachmentSnapshot",
    "ColumnSnapshot",
    "CommentSnapshot",
    "LabelSnapshot",
    "MemberSnapshot",
    "ProjectSnapshot",
    "Snapshot",
    "SprintSnapshot",
    "Target",
    "TaskSnapshot",
    "TimeEntrySnapshot",
    "UserSummary",
    "Verb",
    "attachment_snapshot",
    "column_snapshot",
    "comment_snapshot",
    "emit",
    "event_frame",
    "label_snapshot",
    "member_snapshot",
    "project_snapshot",
    "sprint_snapshot",
    "task_snapshot",
    "task_snapshot_of_row",
    "time_entry_snapshot",
    "timestamp",
    "user_summary",
]
