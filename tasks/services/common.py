"""What every write shares: the project lock, roles, and the activity log."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F

from accounts.models import User
from tasks.events import event_frame
from tasks.models import ROLE_RANK, Activity, Membership, Project
from timetodo.errors import Forbidden, NotFound
from timetodo.streams import project_stream, publish_on_commit

M = TypeVar("M", bound=models.Model)


def lock_project(project_id: Any) -> Project:
    """The project row, locked until commit: writes to one project run one at a time, so
    counters (task numbers, seq) and positions never race, and locks are always taken in
    the same order (project first), so writers cannot deadlock."""
    project = Project.objects.select_for_update(of=("self",)).filter(pk=project_id).first()
    if project is None:  # deleted while this request waited for the lock
        raise NotFound("Not found.")
    return project


def lock_project_of(model: type[M], object_id: Any, *, via: str = "project_id") -> tuple[Project, M]:
    """An object and its project, the project locked first (the order every writer uses);
    NotFound if the object does not exist or vanished while waiting for the lock."""
    project_id = model._default_manager.filter(pk=object_id).values_list(via, flat=True).first()
    if project_id is None:
        raise NotFound("Not found.")
    project = lock_project(project_id)
    obj = model._default_manager.filter(pk=object_id).first()
    if obj is None:
        raise NotFound("Not found.")
    return project, obj


def current_role(project: Project, actor: User) -> str:
    """The actor's role, read again under the project lock: a role changed by a concurrent
    request (a transfer, a demotion) is the one that counts."""
    role = Membership.objects.filter(project=project, user=actor).values_list("role", flat=True).first()
    if role is None:
        raise NotFound("Not found.")
    return role


def require_role(role: str | None, minimum: str, action: str = "do this") -> None:
    if role is None or ROLE_RANK[role] < ROLE_RANK[minimum]:  # type: ignore[index]
        raise Forbidden(f"You need the {minimum} role or higher to {action}.")


def jsonable(value: Any) -> Any:
    """Primitives only (UUIDs, dates and decimals as strings): safe for JSONField and msgpack."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def record(
    *,
    project: Project,
    actor: User | None,
    verb: str,
    target_type: str,
    target_id: Any,
    changes: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    task_id: Any = None,
) -> Activity:
    """Append one event with the next seq (the project row is locked by the caller) and
    publish it once the transaction commits."""
    Project.objects.filter(pk=project.pk).update(last_seq=F("last_seq") + 1)
    project.last_seq += 1
    activity = Activity.objects.create(
        project=project,
        seq=project.last_seq,
        verb=verb,
        actor=actor,
        target_type=target_type,
        target_id=str(target_id),
        task_id=task_id,
        changes=jsonable(changes or {}),
        data=jsonable(data) if data is not None else None,
    )
    publish_on_commit(project_stream(project.pk), event_frame(activity))
    return activity


def diff(instance: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the values that differ from the instance's."""
    changes: dict[str, list[Any]] = {}
    for field, new in values.items():
        old = getattr(instance, field)
        if old != new:
            changes[field] = [old, new]
    return changes
