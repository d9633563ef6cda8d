"""The activity write and the event frame: one row per change, published after commit."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F

from accounts.models import User
from tasks.events.schema import SCHEMA_VERSION, Snapshot, Verb
from tasks.models import Activity, Project
from timetodo.streams import project_stream, publish_on_commit


def jsonable(value: Any) -> Any:
    """Primitives only (UUIDs, dates and decimals as strings): safe for JSONField and msgpack."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def emit(
    *,
    project: Project,
    actor: User | None,
    verb: Verb,
    target_id: Any,
    task_id: Any = None,
    changes: dict[str, Any] | None = None,
    data: Snapshot | None = None,
) -> Activity:
    """Append one event to the project's log with the next seq, and publish its frame once
    the transaction commits (never for a rolled-back change). The caller holds the
    project's row lock, so seqs are gapless and in commit order."""
    if verb.removes_target != (data is None):
        raise ValueError(f"{verb} {'carries no' if verb.removes_target else 'needs a'} snapshot")
    if getattr(project, "seq_reserved", False):
        # The lock already took this seq (services.common: take_numbers, lock_project_of_task).
        project.seq_reserved = False  # type: ignore[attr-defined]
    else:
        Project.objects.filter(pk=project.pk).update(last_seq=F("last_seq") + 1)
        project.last_seq += 1
    activity = Activity.objects.create(
        project=project,
        seq=project.last_seq,
        schema_version=SCHEMA_VERSION,
        verb=verb.value,
        actor=actor,
        target_type=verb.target.value,
        target_id=str(target_id),
        task_id=task_id,
        changes=jsonable(changes or {}),
        data=data,
    )
    publish_on_commit(project_stream(project.pk), event_frame(activity))
    return activity


def event_frame(activity: Activity) -> dict[str, Any]:
    """The event as sockets (docs/api.md "WebSocket" 3) and webhooks receive it, from its row."""
    frame: dict[str, Any] = {
        "type": "event",
        "schema_version": activity.schema_version,
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
