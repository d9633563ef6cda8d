"""Members and roles: add, change role, remove or leave."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from tasks.models import Membership, Role, Task
from tasks.services.common import current_role, lock_project, record
from tasks.services.projects import member_data, membership_role_change
from tasks.services.tasks import task_changed
from timetodo.errors import Conflict, Forbidden, Invalid, NotFound


def _check_may_grant(actor_role: str, role: str) -> None:
    if role == Role.OWNER:
        raise Invalid({"role": ["Ownership is given by transferring the project."]})
    if role == Role.ADMIN and actor_role != Role.OWNER:
        raise Forbidden("Only the owner grants the admin role.")


@transaction.atomic
def member_add(
    *, actor: User, actor_role: str, project_id: Any, email: str | None, user_id: Any, role: str
) -> Membership:
    project = lock_project(project_id)
    actor_role = current_role(project, actor)
    _check_may_grant(actor_role, role)
    users = User.objects.filter(is_active=True)
    user = users.filter(pk=user_id).first() if user_id else users.filter(email__iexact=email).first()
    if user is None:
        field = "user" if user_id else "email"
        raise Invalid({field: ["No active user matches."]})
    if Membership.objects.filter(project=project, user=user).exists():
        raise Conflict("That user is already a member of the project.")
    membership = Membership.objects.create(project=project, user=user, role=role)
    record(
        project=project,
        actor=actor,
        verb="member.added",
        target_type="member",
        target_id=user.pk,
        changes={"role": [None, role]},
        data=member_data(membership),
    )
    return membership


def _target(project_id: Any, user_id: Any) -> Membership:
    membership = Membership.objects.select_related("user").filter(project_id=project_id, user_id=user_id).first()
    if membership is None:
        raise NotFound("Not found.")
    return membership


@transaction.atomic
def member_update(*, actor: User, actor_role: str, project_id: Any, user_id: Any, role: str) -> Membership:
    project = lock_project(project_id)
    actor_role = current_role(project, actor)
    membership = _target(project.pk, user_id)
    if membership.role == Role.OWNER:
        raise Conflict("The owner cannot be demoted; transfer the project first.")
    if membership.role == Role.ADMIN and actor_role != Role.OWNER:
        raise Forbidden("Only the owner changes an admin's role.")
    _check_may_grant(actor_role, role)
    if membership.role == role:
        return membership
    membership_role_change(project=project, actor=actor, membership=membership, role=role)
    return membership


@transaction.atomic
def member_remove(*, actor: User, actor_role: str, project_id: Any, user_id: Any) -> None:
    """Admins remove members and viewers, the owner anyone else; anyone may leave."""
    project = lock_project(project_id)
    actor_role = current_role(project, actor)
    membership = _target(project.pk, user_id)
    if membership.role == Role.OWNER:
        raise Conflict("The owner cannot be removed; transfer the project first.")
    leaving = membership.user_id == actor.pk
    if not leaving:
        if actor_role not in (Role.OWNER, Role.ADMIN):
            raise Forbidden("You need the admin role or higher to remove members.")
        if membership.role == Role.ADMIN and actor_role != Role.OWNER:
            raise Forbidden("Only the owner removes an admin.")
    # Assignees must be members: their open assignments in this project end with them.
    for task in Task.objects.filter(project=project, assignee_id=membership.user_id):
        task.assignee, task.project = None, project
        task_changed(project=project, actor=actor, task=task, changes={"assignee": [membership.user_id, None]})
    membership.delete()
    record(
        project=project,
        actor=actor,
        verb="member.removed",
        target_type="member",
        target_id=membership.user_id,
        changes={"role": [membership.role, None]},
    )
