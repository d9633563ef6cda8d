"""What every write shares: the project row lock, taken first, and field diffs."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import OuterRef, Subquery

from accounts.models import User
from tasks.models import Membership, Project, Task
from timetodo.errors import NotFound

M = TypeVar("M", bound=models.Model)


def lock_project(project_id: Any, *, actor: User | None = None) -> Project:
    """The project row, locked until commit: writes to one project run one at a time, so
    counters (task numbers, seq) and positions never race, and locks are always taken in
    the same order (project first), so writers cannot deadlock. With `actor`, their role is
    read in the same query, once the lock is held (permissions.recheck uses it)."""
    locked = Project.objects.select_for_update(of=("self",)).filter(pk=project_id)
    if actor is not None:
        role = Membership.objects.filter(project_id=OuterRef("pk"), user=actor).values("role")[:1]
        locked = locked.annotate(caller_role=Subquery(role))
    project = locked.first()
    if project is None:  # deleted while this request waited for the lock
        raise NotFound("Not found.")
    if actor is not None:
        project.role_under_lock = (actor.pk, project.caller_role)  # type: ignore[attr-defined]
    return project


# (Table and column names as the models declare them; every create runs it, on both backends.)
TAKE_NUMBERS = """
UPDATE "tasks_project" SET "task_counter" = "task_counter" + 1, "last_seq" = "last_seq" + 1
WHERE "id" = %s
RETURNING "key", "task_counter", "last_seq",
    (SELECT "role" FROM "tasks_membership" WHERE "project_id" = %s AND "user_id" = %s)
"""


def take_numbers(project_id: Any, *, actor: User) -> Project:
    """A task create's lock, counters and role in one round trip: one UPDATE … RETURNING
    takes the project's row lock and its next task number and next event seq together, and
    reads the actor's role under that lock. The project comes back with those fields loaded
    (the rest load on access). NotFound if there is no such project. The caller's
    transaction rolls the numbers back if the create fails (a refused role, a bad field)."""
    pk = Project._meta.pk.get_db_prep_value(uuid.UUID(str(project_id)), connection)
    user = User._meta.pk.get_db_prep_value(actor.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(TAKE_NUMBERS, [pk, pk, user])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("Not found.")
    project = _partial_project(uuid.UUID(str(project_id)), key=row[0], task_counter=row[1], last_seq=row[2])
    project.role_under_lock = (actor.pk, row[3])  # type: ignore[attr-defined]
    project.seq_reserved = True  # type: ignore[attr-defined]  # (the create's event takes it)
    return project


RESERVE_VIA_TASK = """
UPDATE "tasks_project" SET "last_seq" = "last_seq" + 1
WHERE "id" = (SELECT "project_id" FROM "tasks_task" WHERE "id" = %s)
RETURNING "id", "key", "task_counter", "last_seq",
    (SELECT "role" FROM "tasks_membership" WHERE "project_id" = "tasks_project"."id" AND "user_id" = %s)
"""


def lock_project_of_task(task_id: Any, *, actor: User) -> Project:
    """A task write's lock, first seq and role in one round trip: the task's project row
    locked by taking its next event seq (UPDATE … RETURNING, located through the task), with
    the actor's role read under that lock. The write must record at least one event (it
    takes this seq, services.events' emit) or roll back (`transaction.set_rollback`): a
    reserved seq is never left unused. NotFound if there is no such task."""
    pk = Task._meta.pk.get_db_prep_value(uuid.UUID(str(task_id)), connection)
    user = User._meta.pk.get_db_prep_value(actor.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(RESERVE_VIA_TASK, [pk, user])
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


def lock_project_of(
    model: type[M], object_id: Any, *, via: str = "project_id", actor: User | None = None
) -> tuple[Project, M]:
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
