"""Edge cases: odd ids and headers, replaying events, no-op moves, label deletion, races."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from tasks.models import Activity, Column, Label, Task
from tasks.services.projects import project_create, project_delete
from tasks.services.tasks import task_create, task_update
from tests.conftest import requires_postgres
from tests.factories import UserFactory
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("suffix", ["columns/zzz/", "labels/zzz/", "members/zzz/", "columns/1/", "members/%E2%82%AC/"])
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_ids_that_are_not_uuids_are_404(team: Team, suffix: str, method: str) -> None:
    body = {"name": "x", "role": "member", "color": "#000000"} if method == "patch" else {}
    response = getattr(team.clients["owner"], method)(team.url(suffix), body, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("header", ['"²"', 'W/"1a"', "1" * 40, '"-1"', ""])
def test_odd_if_match_values_never_match_and_never_500(team: Team, header: str) -> None:
    task = team.create_task()
    response = team.clients["member"].patch(
        f"/api/v1/tasks/{task['id']}/", {"title": "x"}, format="json", HTTP_IF_MATCH=header
    )
    assert response.status_code == 412
    assert Task.objects.get(pk=task["id"]).title == "A task"


def test_if_match_star_and_weak_tags_match(team: Team) -> None:
    task = team.create_task()
    url = f"/api/v1/tasks/{task['id']}/"
    assert team.clients["member"].patch(url, {"title": "a"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    assert team.clients["member"].patch(url, {"title": "b"}, format="json", HTTP_IF_MATCH='W/"2"').status_code == 200


def replay(team: Team, column: Column) -> list[str]:
    """A client's view: start from nothing, apply every event's data in seq order."""
    positions: dict[str, tuple[str, int, str]] = {}
    for event in Activity.objects.filter(project=team.project).order_by("seq"):
        if event.target_type != "task":
            continue
        if event.data is None:
            positions.pop(event.target_id, None)
        else:
            positions[event.target_id] = (event.data["column"], event.data["position"], event.data["title"])
    ordered = sorted((pos, title) for col, pos, title in positions.values() if col == str(column.pk))
    return [title for _, title in ordered]


def test_replaying_events_gives_the_servers_order_even_after_a_renumber(team: Team) -> None:
    tasks = {name: team.create_task(title=name) for name in "abcd"}
    todo = team.columns[0]
    client = team.clients["member"]
    for _ in range(20):  # squeeze until the column must be renumbered
        for name in ("d", "c"):
            client.post(
                f"/api/v1/tasks/{tasks[name]['id']}/move/",
                {"column": str(todo.pk), "after": tasks["a"]["id"]},
                format="json",
            )
    server = list(Task.objects.filter(column=todo).order_by("position").values_list("title", flat=True))
    assert replay(team, todo) == server
    seqs = list(Activity.objects.filter(project=team.project).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_move_that_changes_nothing_writes_nothing(team: Team) -> None:
    a, b = team.create_task(title="a"), team.create_task(title="b")
    todo = team.columns[0]
    before = Activity.objects.count()
    client = team.clients["member"]
    for body in ({"column": str(todo.pk)}, {"column": str(todo.pk), "after": a["id"]}):
        response = client.post(f"/api/v1/tasks/{b['id']}/move/", body, format="json")
        assert response.status_code == 200
        assert response.json()["version"] == 1
    response = client.post(f"/api/v1/tasks/{a['id']}/move/", {"column": str(todo.pk), "before": b["id"]}, format="json")
    assert response.json()["version"] == 1
    assert Activity.objects.count() == before


def test_deleting_a_label_updates_its_tasks_like_any_change(team: Team) -> None:
    bug = Label.objects.create(project=team.project, name="bug", color="#ff0000")
    ui = Label.objects.create(project=team.project, name="ui", color="#00ff00")
    task = team.create_task(labels=[str(bug.pk), str(ui.pk)])
    assert team.clients["member"].delete(team.url(f"labels/{bug.pk}/")).status_code == 204
    reloaded = team.clients["member"].get(f"/api/v1/tasks/{task['id']}/").json()
    assert reloaded["labels"] == [str(ui.pk)]
    assert reloaded["version"] == 2
    verbs = list(Activity.objects.filter(project=team.project).order_by("seq").values_list("verb", flat=True))
    assert verbs[-2:] == ["task.updated", "label.deleted"]


def test_inserting_a_column_records_the_columns_it_shifts(team: Team) -> None:
    response = team.clients["admin"].post(team.url("columns/"), {"name": "Backlog", "position": 0}, format="json")
    assert response.status_code == 201
    events = list(Activity.objects.filter(project=team.project).order_by("seq"))
    assert [e.verb for e in events] == ["column.updated"] * 4 + ["column.created"]
    assert [e.changes["position"] for e in events[:4]] == [[0, 1], [1, 2], [2, 3], [3, 4]]
    names = [c["name"] for c in team.clients["viewer"].get(team.url("columns/")).json()["results"]]
    assert names == ["Backlog", "To do", "In progress", "Review", "Done"]


def test_project_events_carry_no_callers_role_and_the_new_seq(team: Team) -> None:
    team.clients["admin"].patch(team.url(), {"name": "Renamed"}, format="json")
    event = Activity.objects.get(verb="project.updated")
    assert event.data is not None
    assert "my_role" not in event.data
    assert event.data["last_seq"] == event.seq


def test_label_filter_accepts_none(team: Team) -> None:
    bug = Label.objects.create(project=team.project, name="bug", color="#ff0000")
    team.create_task(title="labelled", labels=[str(bug.pk)])
    team.create_task(title="bare")
    titles = [t["title"] for t in team.clients["member"].get("/api/v1/tasks/", {"label": "none"}).json()["results"]]
    assert titles == ["bare"]


def test_projects_can_be_created_from_the_browsable_api_form(team: Team) -> None:
    response = team.clients["member"].post("/api/v1/projects/", {"name": "Form", "key": "form"})  # form-encoded
    assert response.status_code == 201, response.content
    assert response.json()["key"] == "FORM"


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_waiting_on_a_deleted_project_is_a_404_not_a_500() -> None:
    owner = UserFactory.create()
    project = project_create(actor=owner, name="Doomed", key="DOOM")
    task = task_create(actor=owner, project_id=project.pk, values={"title": "t"}).task
    errors: list[Any] = []
    barrier = threading.Barrier(2)

    def delete() -> None:
        try:
            barrier.wait()
            project_delete(actor=owner, project_id=project.pk)
        finally:
            connection.close()

    def update() -> None:
        try:
            barrier.wait()
            task_update(actor=owner, task_id=task.pk, values={"title": "late"})
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=delete), threading.Thread(target=update)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Either the update won the lock (and was then deleted with the project) or it saw a 404.
    assert all(type(exc).__name__ == "NotFound" for exc in errors), errors
