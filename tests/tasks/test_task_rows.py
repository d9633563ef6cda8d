"""Lists and boards build task snapshots from rows (`values()`), events and single tasks from
models: on varied data (nulls, labels, subtasks, running timers, unicode, a deleted
assignee) the two give the same snapshots, and the answers the same bytes as before."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from tasks import selectors
from tasks.events import task_snapshot
from tasks.models import Label, Task, TimeEntry
from tests.factories import UserFactory
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db


def varied(team: Team) -> None:
    labels = [
        Label.objects.create(project=team.project, name=name, color="#123456") for name in ("ünï", "b", "c\u2028")
    ]
    parent = team.create_task(title='Ünïcødé 🚀 "quoted" \\ back', description="line\nline\u2029")
    team.create_task(
        title="child",
        parent=parent["id"],
        labels=[str(label.pk) for label in labels],
        assignee=str(team.users["member"].pk),
        due_date="2030-02-28",
        story_points=0,
        estimate_minutes=90,
        priority="urgent",
    )
    team.create_task(title="empty", description="")
    done = team.create_task(title="done", column=str(team.columns[-1].pk))
    assert done["is_done"]
    temporary = UserFactory.create()
    from tasks.models import Membership

    Membership.objects.create(project=team.project, user=temporary, role="member")
    team.create_task(title="assigned to someone who leaves", assignee=str(temporary.pk))
    temporary.delete()
    task = Task.objects.get(title="child")
    TimeEntry.objects.create(
        task=task, user=team.users["member"], started_at=timezone.now() - datetime.timedelta(minutes=7)
    )


def test_rows_and_models_give_the_same_snapshots(team: Team) -> None:
    varied(team)
    tasks = selectors.tasks_for_user(user=team.users["viewer"])
    from_models = [
        task_snapshot(task, label_ids=task.label_ids, running_minutes=task.running_minutes)  # type: ignore[attr-defined]
        for task in selectors.prepare_tasks(tasks)
    ]
    from_rows = selectors.snapshots_of_rows(selectors.task_rows(tasks))
    assert from_rows == from_models
    assert JSONRenderer().render(from_rows) == JSONRenderer().render(from_models)
    child = next(s for s in from_rows if s["title"] == "child")
    assert child["spent_minutes"] == 7
    assert len(child["labels"]) == 3
    assignee = child["assignee_detail"]
    assert assignee is not None
    assert assignee["username"] == team.users["member"].username


def test_the_board_and_the_list_show_what_a_single_read_shows(team: Team) -> None:
    varied(team)
    client = team.clients["viewer"]
    listed = client.get("/api/v1/tasks/", {"page_size": 100}).json()["results"]
    boarded = [task for column in client.get(team.url("board/")).json()["columns"] for task in column["tasks"]]
    single = {task["id"]: client.get(f"/api/v1/tasks/{task['id']}/").json() for task in listed}
    assert sorted(listed, key=lambda t: t["id"]) == sorted(single.values(), key=lambda t: t["id"])
    assert sorted(boarded, key=lambda t: t["id"]) == sorted(single.values(), key=lambda t: t["id"])
