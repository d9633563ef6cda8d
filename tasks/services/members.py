"""Members and roles: add, change role, remove or leave."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from tasks import permissions
from tasks.events import Verb, emit, member_snapshot
from tasks.models import Membership, Role, Task
from tasks.permissions import Action
from tasks.services.common import lock_project
from tasks.services.projects import membership_role_change
from tasks.services.tasks import save_task_change
from timetodo.errors import Conflict, Invalid, NotFound


@transaction.atomic
def member_add(
    *, actor: User, project_id: Any, email: str | None, user_id: Any, role: str, username: str | None = None
) -> Membership:
    project = lock_project(project_id, actor=actor)
    actor_role = permissions.recheck(project=project, actor=actor, action=Action.ADD_MEMBERS)
    permissions.require_may_grant(actor_role=actor_role, role=role)
    users = User.objects.filter(is_active=True)
    if user_id:
        field, user = "user", users.filter(pk=user_id).first()
    elif username:
        field, user = "username", users.filter(username__iexact=username).first()
    else:
        field, user = "email", users.filter(email__iexact=email).first()
    if user is None:
        raise Invalid({field: ["No active user matches."]})
    if Membership.objects.filter(project=project, user=user).exists():
        raise Conflict("That user is already a member of the project.")
    membership = Membership.objects.create(project=project, user=user, role=role)
    emit(
        project=project,
        actor=actor,
        verb=Verb.MEMBER_ADDED,
        target_id=user.pk,
        changes={"role": [None, role]},
        data=member_snapshot(membership),
    )
    return membership


def _target(project_id: Any, user_id: Any) -> Membership:
    membership = Membership.objects.select_related("user").filter(project_id=project_id, user_id=user_id).first()
    if membership is None:
        raise NotFound("Not found.")
    return membership


@transaction.atomic
def member_update(*, actor: User, project_id: Any, user_id: Any, role: str) -> Membership:
    project = lock_project(project_id, actor=actor)
    actor_role = permissions.recheck(project=project, actor=actor, action=Action.CHANGE_ROLES)
    membership = _target(project.pk, user_id)
    if membership.role == Role.OWNER:
        raise Conflict("The owner cannot be demoted; transfer the project first.")
    permissions.require_may_change_role_of(actor_role=actor_role, target_role=membership.role)
    permissions.require_may_grant(actor_role=actor_role, role=role)
    if membership.role == role:
        return membership
    membership_role_change(project=project, actor=actor, membership=membership, role=role)
    return membership


@transaction.atomic
def member_remove(*, actor: User, project_id: Any, user_id: Any) -> None:
    """Admins remove members and viewers, the owner anyone else; anyone may leave."""
    project = lock_project(project_id, actor=actor)
    actor_role = permissions.role_under_lock(project=project, actor=actor)
    membership = _target(project.pk, user_id)
    if membership.role == Role.OWNER:
        raise Conflict("The owner cannot be removed; transfer the project first.")
    permissions.require_may_remove(actor=actor, actor_role=actor_role, target=membership)
    # Assignees must be members: their open assignments in this project end with them.
    for task in Task.objects.filter(project=project, assignee_id=membership.user_id):
        task.assignee, task.project = None, project
        save_task_change(project=project, actor=actor, task=task, changes={"assignee": [membership.user_id, None]})
    membership.delete()
    emit(
        project=project,
        actor=actor,
        verb=Verb.MEMBER_REMOVED,
        target_id=membership.user_id,
        changes={"role": [membership.role, None]},
    )
