"""Who may do what inside a project: the role table and every check, in one place.

Roles rank owner > admin > member > viewer. Anyone who is not a member sees nothing:
404, never 403, so a project's existence does not leak. A member whose role is too low
gets 403 naming the role needed.

Checks happen twice for every write inside a project: the API's endpoint bases
(tasks.api.base) resolve the URL's parent and the caller's role once per request and
check the method's action before anything else runs; the service checks again under the
project row lock (`recheck`, or `role_under_lock` and the object's rule), where a
concurrent demotion, removal or transfer has either happened or waits. (Stopping one's
own running timer needs no role: it is how a removed member's timer ends.)
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from accounts.models import User
from tasks.models import Membership, Project, Role
from timetodo.errors import Forbidden, Invalid, NotFound

ROLE_RANK: dict[str, int] = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Action(Enum):
    """The role table: each action and the lowest role that may do it."""

    VIEW = (Role.VIEWER, "see this project")
    COMMENT = (Role.VIEWER, "comment")
    CREATE_TASKS = (Role.MEMBER, "create tasks")
    EDIT_TASKS = (Role.MEMBER, "edit tasks")
    MOVE_TASKS = (Role.MEMBER, "move tasks")
    DELETE_TASKS = (Role.MEMBER, "delete tasks")
    MANAGE_LABELS = (Role.MEMBER, "manage labels")
    LOG_TIME = (Role.MEMBER, "log time")
    TRACK_TIME = (Role.MEMBER, "track time")
    CHANGE_OWN_TIME = (Role.MEMBER, "change time entries")
    CHANGE_OTHERS_TIME = (Role.ADMIN, "change other people's time entries")
    DELETE_OTHERS_COMMENTS = (Role.ADMIN, "delete other people's comments")
    ATTACH_FILES = (Role.MEMBER, "attach files")
    DELETE_OTHERS_ATTACHMENTS = (Role.ADMIN, "delete other people's attachments")
    EDIT_PROJECT = (Role.ADMIN, "edit the project")
    ADD_MEMBERS = (Role.ADMIN, "add members")
    CHANGE_ROLES = (Role.ADMIN, "change roles")
    REMOVE_MEMBERS = (Role.ADMIN, "remove members")
    MANAGE_COLUMNS = (Role.ADMIN, "manage columns")
    MANAGE_SPRINTS = (Role.ADMIN, "manage sprints")
    DELETE_PROJECT = (Role.OWNER, "delete the project")
    TRANSFER_PROJECT = (Role.OWNER, "transfer the project")

    def __init__(self, minimum: Role, phrase: str) -> None:
        self.minimum = minimum
        self.phrase = phrase


def has_role(role: str | None, minimum: str) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def require(role: str | None, action: Action) -> None:
    """403 unless `role` may do `action` (the caller has established membership)."""
    if not has_role(role, action.minimum):
        raise Forbidden(f"You need the {action.minimum} role or higher to {action.phrase}.")


def role_under_lock(*, project: Project, actor: User) -> str:
    """The actor's role, read after the caller took the project's row lock: a role changed
    by a concurrent request (a transfer, a demotion, a removal) is the one that counts.
    NotFound if they are no longer a member. Read with the lock when the caller passed
    `actor` to services.common.lock_project (then no query here)."""
    held = getattr(project, "role_under_lock", None)
    if held is not None and held[0] == actor.pk:
        role = held[1]
        project.role_under_lock = None  # type: ignore[attr-defined]  # (once: later reads see later changes)
    else:
        role = Membership.objects.filter(project=project, user=actor).values_list("role", flat=True).first()
    if role is None:
        raise NotFound("Not found.")
    return role


def recheck(*, project: Project, actor: User, action: Action) -> str:
    """The check every write service makes under the project lock; returns the role."""
    role = role_under_lock(project=project, actor=actor)
    require(role, action)
    return role


# Rules that depend on the object as well as the role


def require_comment_author(*, actor: User, author_id: Any) -> None:
    if author_id != actor.pk:
        raise Forbidden("Only the author edits a comment.")


def comment_delete_action(*, actor: User, author_id: Any) -> Action:
    """Authors delete their own comments (viewers comment, so they may); admin+ anyone's."""
    return Action.COMMENT if author_id == actor.pk else Action.DELETE_OTHERS_COMMENTS


def time_entry_action(*, actor: User, entry_user_id: Any) -> Action:
    """Members change their own time; admin+ anyone's."""
    return Action.CHANGE_OWN_TIME if entry_user_id == actor.pk else Action.CHANGE_OTHERS_TIME


def require_may_grant(*, actor_role: str, role: str) -> None:
    """Admins grant member and viewer; only the owner grants admin; ownership moves only
    by a transfer."""
    if role == Role.OWNER:
        raise Invalid({"role": ["Ownership is given by transferring the project."]})
    if role == Role.ADMIN and actor_role != Role.OWNER:
        raise Forbidden("Only the owner grants the admin role.")


def require_may_change_role_of(*, actor_role: str, target_role: str) -> None:
    if target_role == Role.ADMIN and actor_role != Role.OWNER:
        raise Forbidden("Only the owner changes an admin's role.")


def require_may_remove(*, actor: User, actor_role: str, target: Membership) -> None:
    """Anyone may leave; admins remove members and viewers, the owner anyone else."""
    if target.user_id == actor.pk:
        return
    require(actor_role, Action.REMOVE_MEMBERS)
    if target.role == Role.ADMIN and actor_role != Role.OWNER:
        raise Forbidden("Only the owner removes an admin.")
