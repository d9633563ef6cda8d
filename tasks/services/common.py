"""What every write shares: the project row lock, taken first, and field diffs."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

from tasks.models import Project
from timetodo.errors import NotFound

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


def diff(instance: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the values that differ from the instance's."""
    changes: dict[str, list[Any]] = {}
    for field, new in values.items():
        old = getattr(instance, field)
        if old != new:
            changes[field] = [old, new]
    return changes
