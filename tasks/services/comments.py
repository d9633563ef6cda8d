"""Comments on tasks."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from tasks import permissions
from tasks.events import Verb, comment_snapshot, emit
from tasks.models import Comment, Project, Task
from tasks.services.common import lock_project
from timetodo.errors import NotFound


@transaction.atomic
def comment_create(*, actor: User, task: Task, body: str) -> Comment:
    project = lock_project(task.project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=permissions.Action.COMMENT)
    if not Task.objects.filter(pk=task.pk).exists():
        raise NotFound("Not found.")
    comment = Comment.objects.create(task=task, author=actor, body=body)
    emit(
        project=project,
        actor=actor,
        verb=Verb.COMMENT_CREATED,
        target_id=comment.pk,
        task_id=task.pk,
        data=comment_snapshot(comment),
    )
    return comment


def _locked(comment: Comment, actor: User) -> tuple[Project, Comment]:
    """The comment's project locked (with the actor's role), then the comment read again:
    it may have been edited or deleted while this request waited."""
    project = lock_project(comment.task.project_id, actor=actor)
    current = Comment.objects.select_related("author").filter(pk=comment.pk).first()
    if current is None:
        raise NotFound("Not found.")
    return project, current


@transaction.atomic
def comment_update(*, actor: User, comment: Comment, body: str) -> Comment:
    project, comment = _locked(comment, actor)
    permissions.recheck(project=project, actor=actor, action=permissions.Action.COMMENT)
    permissions.require_comment_author(actor=actor, author_id=comment.author_id)
    if body == comment.body:
        return comment
    old = comment.body
    comment.body, comment.edited = body, True
    comment.save(update_fields=["body", "edited", "updated_at"])
    emit(
        project=project,
        actor=actor,
        verb=Verb.COMMENT_UPDATED,
        target_id=comment.pk,
        task_id=comment.task_id,
        changes={"body": [old, body]},
        data=comment_snapshot(comment),
    )
    return comment


@transaction.atomic
def comment_delete(*, actor: User, comment: Comment) -> None:
    project, comment = _locked(comment, actor)
    action = permissions.comment_delete_action(actor=actor, author_id=comment.author_id)
    permissions.recheck(project=project, actor=actor, action=action)
    comment_id, task_id = comment.pk, comment.task_id
    comment.delete()
    emit(project=project, actor=actor, verb=Verb.COMMENT_DELETED, target_id=comment_id, task_id=task_id)
