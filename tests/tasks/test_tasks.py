"""Tasks over HTTP: fields, validation, filters, PATCH and lost-update protection."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tasks.models import Activity, Label, Membership, Sprint, Task
from tasks.services.projects import project_create
from tests.factories import UserFactory
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"


def task_url(task: dict[str, Any], suffix: str = "") -> str:
    return f"{TASKS}{task['id']}/{suffix}"


def test_create_with_every_field(team: Team) -> None:
    label = Label.objects.create(project=team.project, name="bug", color="#ff0000")
    sprint = Sprint.objects.create(project=team.project, name="S1")
    parent = team.create_task(title="Parent")
    task = team.create_task(
        title="  Write the docs  ",
        description="All of them",
        column=str(team.columns[1].pk),
        priority="high",
        assignee=str(team.users["viewer"].pk),
        labels=[str(label.pk)],
        story_points=5,
        estimate_minutes=90,
        due_date="2026-12-31",
        sprint=str(sprint.pk),
        parent=parent["id"],
    )
    assert task["key"] == "TTD-2"
    assert task["number"] == 2
    assert task["title"] == "Write the docs"
    assert task["column"] == str(team.columns[1].pk)
    assert task["labels"] == [str(label.pk)]
    assert task["assignee_detail"]["username"] == "viewer-user"
    assert task["creator"] == str(team.users["member"].pk)
    assert (task["story_points"], task["estimate_minutes"], task["due_date"]) == (5, 90, "2026-12-31")
    assert task["sprint"] == str(sprint.pk)
    assert task["parent"] == parent["id"]
    assert task["is_done"] is False
    assert task["version"] == 1
    assert task["spent_minutes"] == 0


def test_tasks_land_at_the_end_of_the_first_column_by_default(team: Team) -> None:
    first, second = team.create_task(), team.create_task()
    assert first["column"] == second["column"] == str(team.columns[0].pk)
    assert second["position"] > first["position"]


def test_server_owned_fields_are_ignored_on_create(team: Team) -> None:
    task = team.create_task(
        number=99, key="X-1", version=7, position=1, creator=str(team.users["owner"].pk), is_done=True, id="x"
    )
    assert (task["number"], task["key"], task["version"], task["is_done"]) == (1, "TTD-1", 1, False)
    assert task["creator"] == str(team.users["member"].pk)


def test_numbers_count_up_per_project(team: Team, user) -> None:
    assert [team.create_task()["number"] for _ in range(3)] == [1, 2, 3]
    other = project_create(actor=team.users["member"], name="Other", key="OTH")
    response = team.clients["member"].post(TASKS, {"project": str(other.pk), "title": "x"}, format="json")
    assert response.json()["key"] == "OTH-1"


def test_is_done_follows_the_column(team: Team) -> None:
    done = team.columns[3]
    task = team.create_task(column=str(done.pk))
    assert task["is_done"] is True
    assert task["completed_at"] is not None
    moved = team.clients["member"].patch(task_url(task), {"column": str(team.columns[0].pk)}, format="json").json()
    assert moved["is_done"] is False
    assert moved["completed_at"] is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"description": "d" * 50_001}, "description"),
        ({"priority": "critical"}, "priority"),
        ({"story_points": -1}, "story_points"),
        ({"story_points": "many"}, "story_points"),
        ({"due_date": "31/12/2026"}, "due_date"),
        ({"labels": "not-a-list"}, "labels"),
        ({"column": "not-a-uuid"}, "column"),
        ({"column": "00000000-0000-0000-0000-000000000000"}, "column"),
        ({"assignee": "00000000-0000-0000-0000-000000000000"}, "assignee"),
        ({"labels": ["00000000-0000-0000-0000-000000000000"]}, "labels"),
        ({"sprint": "00000000-0000-0000-0000-000000000000"}, "sprint"),
        ({"parent": "00000000-0000-0000-0000-000000000000"}, "parent"),
    ],
)
def test_bad_task_input_is_a_400_naming_the_field(team: Team, values: dict[str, Any], field: str) -> None:
    body = {"project": str(team.project.pk), "title": "ok", **values}
    response = team.clients["member"].post(TASKS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Task.objects.exists()
    assert not Activity.objects.exists()


def test_references_from_another_project_are_refused(team: Team) -> None:
    other = project_create(actor=team.users["member"], name="Other", key="OTH")
    foreign_label = Label.objects.create(project=other, name="x", color="#000000")
    foreign_sprint = Sprint.objects.create(project=other, name="S")
    foreign_task = team.clients["member"].post(TASKS, {"project": str(other.pk), "title": "x"}, format="json").json()
    client = team.clients["member"]
    for field, value in [
        ("column", str(other.columns.get(position=0).pk)),
        ("labels", [str(foreign_label.pk)]),
        ("sprint", str(foreign_sprint.pk)),
        ("parent", foreign_task["id"]),
        ("assignee", str(team.users["outsider"].pk)),  # not a member of TTD
    ]:
        response = client.post(TASKS, {"project": str(team.project.pk), "title": "x", field: value}, format="json")
        assert response.status_code == 400, field
        assert field in response.json()
    assert Task.objects.filter(project=team.project).count() == 0


def test_parent_cycles_are_refused(team: Team) -> None:
    a = team.create_task(title="a")
    b = team.create_task(title="b", parent=a["id"])
    c = team.create_task(title="c", parent=b["id"])
    client = team.clients["member"]
    for parent in (c["id"], a["id"]):
        response = client.patch(task_url(a), {"parent": parent}, format="json")
        assert response.status_code == 400
        assert "parent" in response.json()
    assert Task.objects.get(pk=a["id"]).parent_id is None


def test_patch_changes_only_what_was_sent(team: Team) -> None:
    task = team.create_task(description="keep me", priority="low")
    response = team.clients["member"].patch(task_url(task), {"title": "New title"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "New title"
    assert (body["description"], body["priority"]) == ("keep me", "low")
    assert body["version"] == 2
    assert response["ETag"] == '"2"'
    event = Activity.objects.filter(project=team.project).order_by("-seq").first()
    assert event is not None
    assert event.verb == "task.updated"
    assert event.changes == {"title": ["A task", "New title"]}


def test_patch_ignores_server_owned_fields(team: Team) -> None:
    task = team.create_task()
    response = team.clients["member"].patch(
        task_url(task), {"number": 50, "key": "Z-9", "project": "x", "is_done": True, "position": 1}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["number"], response.json()["version"]) == (1, 1)


def test_get_sends_the_version_as_etag(team: Team) -> None:
    task = team.create_task()
    response = team.clients["viewer"].get(task_url(task))
    assert response["ETag"] == '"1"'


def test_stale_if_match_is_412_with_the_current_task_and_writes_nothing(team: Team) -> None:
    task = team.create_task()
    client = team.clients["member"]
    assert client.patch(task_url(task), {"title": "v2"}, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    stale = client.patch(task_url(task), {"title": "lost"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert stale.json()["title"] == "v2"
    assert stale.json()["version"] == 2
    assert stale["ETag"] == '"2"'
    assert Task.objects.get(pk=task["id"]).title == "v2"
    assert Activity.objects.filter(verb="task.updated").count() == 1


def test_stale_body_version_is_409_with_the_current_task(team: Team) -> None:
    task = team.create_task()
    client = team.clients["member"]
    client.patch(task_url(task), {"title": "v2"}, format="json")
    stale = client.patch(task_url(task), {"title": "lost", "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json()["title"] == "v2"
    fresh = client.patch(task_url(task), {"title": "v3", "version": 2}, format="json")
    assert fresh.status_code == 200


def test_delete_records_the_event_and_frees_subtasks(team: Team) -> None:
    parent = team.create_task(title="parent")
    child = team.create_task(title="child", parent=parent["id"])
    assert team.clients["member"].delete(task_url(parent)).status_code == 204
    assert team.clients["member"].get(task_url(parent)).status_code == 404
    assert team.clients["member"].get(task_url(child)).json()["parent"] is None
    last = Activity.objects.filter(project=team.project).order_by("-seq").first()
    assert last is not None
    assert last.verb == "task.deleted"
    assert last.data is None


# Listing


@pytest.fixture
def spread(team: Team) -> dict[str, Any]:
    label = Label.objects.create(project=team.project, name="bug", color="#ff0000")
    sprint = Sprint.objects.create(project=team.project, name="S1")
    tasks = {
        "a": team.create_task(
            title="Alpha login bug", priority="urgent", labels=[str(label.pk)], due_date="2026-01-10"
        ),
        "b": team.create_task(
            title="Beta", description="the login page", priority="low", assignee=str(team.users["member"].pk)
        ),
        "c": team.create_task(title="Gamma", priority="medium", sprint=str(sprint.pk), due_date="2026-03-01"),
        "d": team.create_task(title="Delta", column=str(team.columns[3].pk), priority="high"),
    }
    return {"tasks": tasks, "label": label, "sprint": sprint}


def titles(team: Team, **params: Any) -> list[str]:
    response = team.clients["member"].get(TASKS, params)
    assert response.status_code == 200, response.content
    return [task["title"] for task in response.json()["results"]]


def test_filters(team: Team, spread: dict[str, Any]) -> None:
    assert titles(team, assignee="me") == ["Beta"]
    assert titles(team, assignee=str(team.users["member"].pk)) == ["Beta"]
    assert len(titles(team, assignee="none")) == 3
    assert titles(team, priority="urgent") == ["Alpha login bug"]
    assert titles(team, label=str(spread["label"].pk)) == ["Alpha login bug"]
    assert titles(team, sprint=str(spread["sprint"].pk)) == ["Gamma"]
    assert len(titles(team, sprint="none")) == 3
    assert titles(team, due_before="2026-02-01") == ["Alpha login bug"]
    assert titles(team, due_after="2026-02-01") == ["Gamma"]
    assert titles(team, is_done="true") == ["Delta"]
    assert titles(team, column=str(team.columns[3].pk)) == ["Delta"]
    assert len(titles(team, project=str(team.project.pk))) == 4
    assert titles(team, search="login") == ["Alpha login bug", "Beta"]
    assert titles(team, search="LOGIN page") == ["Beta"]


def test_ordering(team: Team, spread: dict[str, Any]) -> None:
    assert titles(team, ordering="-priority") == ["Alpha login bug", "Delta", "Gamma", "Beta"]
    assert titles(team, ordering="priority") == ["Beta", "Gamma", "Delta", "Alpha login bug"]
    assert titles(team, ordering="-number") == ["Delta", "Gamma", "Beta", "Alpha login bug"]
    assert titles(team, ordering="due_date")[:2] == ["Alpha login bug", "Gamma"]


@pytest.mark.parametrize(
    "params",
    [
        {"assignee": "someone"},
        {"sprint": "me"},
        {"priority": "critical"},
        {"due_before": "yesterday"},
        {"project": "nope"},
        {"is_done": "perhaps"},
        {"ordering": "password"},
        {"label": "bug"},
        {"due_after": "03/01/2026"},  # the contract's dates are YYYY-MM-DD, no locale forms
    ],
)
def test_bad_filters_are_400_naming_the_parameter(team: Team, params: dict[str, str]) -> None:
    response = team.clients["member"].get(TASKS, params)
    assert response.status_code == 400, params
    assert list(response.json()) == list(params)


def test_pagination_caps_the_page_size(team: Team) -> None:
    for _ in range(3):
        team.create_task()
    body = team.clients["member"].get(TASKS, {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None
    assert len(team.clients["member"].get(TASKS, {"page_size": 200}).json()["results"]) == 3
    for bad in ("201", "100000", "0", "-1", "ten", "²"):
        response = team.clients["member"].get(TASKS, {"page_size": bad})
        assert response.status_code == 400, bad
        assert "page_size" in response.json()
    assert team.clients["member"].get(TASKS, {"page": 99}).status_code == 404


def test_invalid_json_and_utf8_are_400(team: Team) -> None:
    client = team.clients["member"]
    assert client.post(TASKS, data=b'{"title": "\xff\xfe"}', content_type="application/json").status_code == 400
    assert client.post(TASKS, data=b"[1, 2", content_type="application/json").status_code == 400
    assert client.post(TASKS, data=b"[]", content_type="application/json").status_code == 400
    assert not Task.objects.exists()


def test_due_dates_are_dates(team: Team) -> None:
    task = team.create_task(due_date=str(dt.date(2027, 1, 2)))
    assert task["due_date"] == "2027-01-02"


def test_assignee_may_be_any_member_including_viewers(team: Team) -> None:
    newcomer = UserFactory.create()
    Membership.objects.create(project=team.project, user=newcomer, role="viewer")
    task = team.create_task(assignee=str(newcomer.pk))
    assert task["assignee"] == str(newcomer.pk)


def test_fast_task_serialization_matches_drfs_generic_output(team: Team) -> None:
    import json

    from rest_framework import serializers as drf_serializers
    from rest_framework.renderers import JSONRenderer

    from tasks.selectors import prepare_tasks, tasks_shown
    from tasks.serializers.tasks import TaskSerializer

    label = Label.objects.create(project=team.project, name="bug", color="#ff0000")
    parent = team.create_task(title="parent")
    team.create_task(
        title="full",
        assignee=str(team.users["admin"].pk),
        labels=[str(label.pk)],
        due_date="2026-02-03",
        story_points=3,
        parent=parent["id"],
        column=str(team.columns[3].pk),
    )
    for task in prepare_tasks(tasks_shown().filter(project=team.project)):
        fast = TaskSerializer(task).data
        generic = drf_serializers.ModelSerializer.to_representation(TaskSerializer(), task)
        assert json.loads(JSONRenderer().render(fast)) == json.loads(JSONRenderer().render(generic))
