"""Projects: create, update, delete, transfer ownership; a member's role change."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import User
from tasks import permissions
from tasks.events import Verb, emit, member_snapshot, project_snapshot
from tasks.models import Attachment, Column, Membership, Project, Role
from tasks.permissions import Action
from tasks.services.attachments import remove_files_after_commit
from tasks.services.common import diff, lock_project
from timetodo.errors import Conflict, Invalid
from timetodo.streams import project_stream, revoke_on_commit

DEFAULT_COLUMNS = [("To do", False), ("In progress", False), ("Review", False), ("Done", True)]


def _key_taken(key: str, exclude: Any = None) -> bool:
    projects = Project.objects.filter(key=key)
    if exclude is not None:
        projects = projects.exclude(pk=exclude)
    return projects.exists()


@transaction.atomic
def project_create(*, actor: User, name: str, key: str, description: str = "", status: str | None = None) -> Project:
    """The caller becomes owner; the four default columns are created."""
    if _key_taken(key):
        raise Invalid({"key": ["A project with this key already exists."]})
    project = Project(name=name, key=key, description=description, owner=actor)
    if status:
        project.status = status
    try:
        with transaction.atomic():
            project.save(force_insert=True)
    except IntegrityError:
        raise Invalid({"key": ["A project with this key already exists."]}) from None
    Membership.objects.create(project=project, user=actor, role=Role.OWNER)
    Column.objects.bulk_create(
        Column(project=project, name=name, position=index, is_done=is_done)
        for index, (name, is_done) in enumerate(DEFAULT_COLUMNS)
    )
    return project


@transaction.atomic
def project_update(*, actor: User, project_id: Any, values: dict[str, Any]) -> Project:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.EDIT_PROJECT)
    if "key" in values and values["key"] != project.key and _key_taken(values["key"], exclude=project.pk):
        raise Invalid({"key": ["A project with this key already exists."]})
    changes = diff(project, values)
    if not changes:
        return project
    for field, (_, new) in changes.items():
        setattr(project, field, new)
    try:
        with transaction.atomic():
            project.save(update_fields=[*changes, "updated_at"])
    except IntegrityError:
        raise Invalid({"key": ["A project with this key already exists."]}) from None
    _emit_project_updated(project, actor, changes)
    return project


@transaction.atomic
def project_delete(*, actor: User, project_id: Any) -> None:
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.DELETE_PROJECT)
    # Tasks protect their columns; remove them first, then everything else cascades.
    remove_files_after_commit(Attachment.objects.filter(project=project))
    project.tasks.all().delete()
    project.delete()
    revoke_on_commit(project_stream(project_id), "project_deleted")


@transaction.atomic
def project_transfer(*, actor: User, project_id: Any, new_owner_id: Any) -> Project:
    """That member becomes owner; the old owner becomes admin."""
    project = lock_project(project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.TRANSFER_PROJECT)
    target = Membership.objects.select_related("user").filter(project=project, user_id=new_owner_id).first()
    if target is None:
        raise Invalid({"user": ["The new owner must be a member of the project."]})
    if target.user_id == project.owner_id:
        raise Conflict("That user already owns the project.")
    current = Membership.objects.select_related("user").get(project=project, user_id=project.owner_id)
    old_owner_id = project.owner_id
    for membership, role in ((current, Role.ADMIN), (target, Role.OWNER)):
        membership_role_change(project=project, actor=actor, membership=membership, role=role)
    project.owner_id = target.user_id
    project.save(update_fields=["owner", "updated_at"])
    _emit_project_updated(project, actor, {"owner": [old_owner_id, target.user_id]})
    return project


def _emit_project_updated(project: Project, actor: User, changes: dict[str, Any]) -> None:
    # The snapshot's last_seq already counts the event it is part of.
    data = project_snapshot(project, last_seq=project.last_seq + 1)
    emit(project=project, actor=actor, verb=Verb.PROJECT_UPDATED, target_id=project.pk, changes=changes, data=data)


def membership_role_change(*, project: Project, actor: User, membership: Membership, role: str) -> None:
    """Give a member another role and record it (the project row is locked by the caller)."""
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    emit(
        project=project,
        actor=actor,
        verb=Verb.MEMBER_UPDATED,
        target_id=membership.user_id,
        changes={"role": [old, role]},
        data=member_snapshot(membership),
    )
