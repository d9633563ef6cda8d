"""Comments on tasks."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from tasks.models import Comment, Task
from tasks.serializers import CommentSerializer
from tasks.services.common import lock_project, record
from timetodo.errors import NotFound


def _data(comment: Comment) -> dict[str, Any]:
    return dict(CommentSerializer(comment).data)


@transaction.atomic
def comment_create(*, actor: User, task: Task, body: str) -> Comment:
    project = lock_project(task.project_id)
    if not Task.objects.filter(pk=task.pk).exists():
        raise NotFound("Not found.")
    comment = Comment.objects.create(task=task, author=actor, body=body)
    record(
        project=project,
        actor=actor,
        verb="comment.created",
        target_type="comment",
        target_id=comment.pk,
        task_id=task.pk,
        data=_data(comment),
    )
    return comment


@transaction.atomic
def comment_update(*, actor: User, comment: Comment, body: str) -> Comment:
    project = lock_project(comment.task.project_id)
    if body == comment.body:
        return comment
    old = comment.body
    comment.body, comment.edited = body, True
    comment.save(update_fields=["body", "edited", "updated_at"])
    record(
        project=project,
        actor=actor,
        verb="comment.updated",
        target_type="comment",
        target_id=comment.pk,
        task_id=comment.task_id,
        changes={"body": [old, body]},
        data=_data(comment),
    )
    return comment


@transaction.atomic
def comment_delete(*, actor: User, comment: Comment) -> None:
    project = lock_project(comment.task.project_id)
    comment_id, task_id = comment.pk, comment.task_id
    comment.delete()
    record(
        project=project,
        actor=actor,
        verb="comment.deleted",
        target_type="comment",
        target_id=comment_id,
        task_id=task_id,
    )
