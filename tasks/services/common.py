"""What every write shares: the project row lock, taken first, and field diffs."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import OuterRef, Subquery

from accounts.models import User
from tasks.models import Membership, Project
from timetodo.errors import NotFound

M = TypeVar("M", bound=models.Model)


def lock_project(project_id: Any, *, actor: User) -> Project:
    """The project row, locked until commit: writes to one project run one at a time, so
    counters (task numbers, seq) and positions never race, and locks are always taken in
    the same order (project first), so writers cannot deadlock. The actor's role is read in
    the same query, once the lock is held (permissions.recheck uses it)."""
    role = Membership.objects.filter(project_id=OuterRef("pk"), user=actor).values("role")[:1]
    project = (
        Project.objects.select_for_update(of=("self",))
        .filter(pk=project_id)
        .annotate(locked_role=Subquery(role))
        .first()
    )
    if project is None:  # deleted while this request waited for the lock
        raise NotFound("Not found.")
    project.role_under_lock = (actor.pk, project.__dict__.pop("locked_role"))  # type: ignore[attr-defined]
    return project


# The hot task writes lock their project with an UPDATE that also takes what they will use
# and reads the actor's role under that lock, in one round trip. (Table and column names as
# the models declare them; every create and task write runs these, on both backends.)
TAKE_NUMBERS = """
UPDATE "tasks_project" SET "task_counter" = "task_counter" + 1, "last_seq" = "last_seq" + 1
WHERE "id" = %s
RETURNING "id", "key", "task_counter", "last_seq",
    (SELECT "role" FROM "tasks_membership" WHERE "project_id" = "tasks_project"."id" AND "user_id" = %s)
"""
RESERVE_VIA_TASK = """
UPDATE "tasks_project" SET "last_seq" = "last_seq" + 1
WHERE "id" = (SELECT "project_id" FROM "tasks_task" WHERE "id" = %s)
RETURNING "id", "key", "task_counter", "last_seq",
    (SELECT "role" FROM "tasks_membership" WHERE "project_id" = "tasks_project"."id" AND "user_id" = %s)
"""


def take_numbers(project_id: Any, *, actor: User) -> Project:
    """A task create's lock: the project's next task number and next event seq, taken
    together. NotFound if there is no such project. The caller's transaction rolls the
    numbers back if the create fails (a refused role, a bad field)."""
    return _lock_by_update(TAKE_NUMBERS, project_id, actor)


def lock_project_of_task(task_id: Any, *, actor: User) -> Project:
    """A task write's lock: its project's next event seq, located through the task. The
    write must record at least one event (it takes this seq, events.emit) or roll back
    (`transaction.set_rollback`): a reserved seq is never left unused. NotFound if there is
    no such task."""
    return _lock_by_update(RESERVE_VIA_TASK, task_id, actor)


def _lock_by_update(sql: str, target_id: Any, actor: User) -> Project:
    """Run one of the locking UPDATEs above; the project comes back with the fields it
    returned loaded (the rest load on access), the actor's role read under the lock
    (permissions.recheck uses it) and its next seq reserved for the first event."""
    target = models.UUIDField().get_db_prep_value(uuid.UUID(str(target_id)), connection)
    user = User._meta.pk.get_db_prep_value(actor.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [target, user])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("Not found.")
    project = _partial_project(uuid.UUID(str(row[0])), key=row[1], task_counter=row[2], last_seq=row[3])
    project.role_under_lock = (actor.pk, row[4])  # type: ignore[attr-defined]
    project.seq_reserved = True  # type: ignore[attr-defined]
    return project


def _partial_project(project_id: uuid.UUID, **loaded: Any) -> Project:
    """A Project with these fields loaded (the others load on access)."""
    loaded["id"] = project_id
    in_model_order = [field.attname for field in Project._meta.concrete_fields if field.attname in loaded]
    return Project.from_db(connection.alias, in_model_order, [loaded[name] for name in in_model_order])


def lock_project_of(model: type[M], object_id: Any, *, actor: User, via: str = "project_id") -> tuple[Project, M]:
    """An object and its project, the project locked first (the order every writer uses);
    NotFound if the object does not exist or vanished while waiting for the lock."""
    project_id = model._default_manager.filter(pk=object_id).values_list(via, flat=True).first()
    if project_id is None:
        raise NotFound("Not found.")
    project = lock_project(project_id, actor=actor)
    obj = model._default_manager.filter(pk=object_id).first()
    if obj is None:
        raise NotFound("Not found.")
    return project, obj


def diff(instance: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the values that differ from the instance's."""
    changes: dict[str, list[Any]] = {}
    for field, new in values.items():
        old = getattr(instance, field)
        if old != new:
            changes[field] = [old, new]
    return changes
