"""Moves, bulk updates, columns, labels and comments over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import Activity, Column, Comment, Label, Task
from tasks.positions import GAP
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db


def order(team: Team, column: Column) -> list[str]:
    board = team.clients["viewer"].get(team.url("board/")).json()
    tasks = next(c for c in board["columns"] if c["id"] == str(column.pk))["tasks"]
    return [task["title"] for task in tasks]


def move(team: Team, task: dict[str, Any], column: Column, **where: Any):
    body = {"column": str(column.pk), **{key: value["id"] for key, value in where.items()}}
    return team.clients["member"].post(f"/api/v1/tasks/{task['id']}/move/", body, format="json")


@pytest.fixture
def abc(team: Team) -> dict[str, dict[str, Any]]:
    return {name: team.create_task(title=name) for name in "abc"}


def test_move_before_after_and_to_the_end(team: Team, abc) -> None:
    todo, doing = team.columns[0], team.columns[1]
    assert move(team, abc["c"], todo, before=abc["a"]).status_code == 200
    assert order(team, todo) == ["c", "a", "b"]
    assert move(team, abc["c"], todo, after=abc["a"]).status_code == 200
    assert order(team, todo) == ["a", "c", "b"]
    response = move(team, abc["a"], doing)
    assert response.status_code == 200
    assert response.json()["column"] == str(doing.pk)
    assert response.json()["version"] == 2
    assert order(team, todo) == ["c", "b"]
    assert order(team, doing) == ["a"]
    assert move(team, abc["b"], doing, before=abc["a"]).status_code == 200
    assert order(team, doing) == ["b", "a"]


def test_a_move_writes_one_task_row(team: Team, abc) -> None:
    with CaptureQueriesContext(connection) as queries:
        move(team, abc["c"], team.columns[0], before=abc["b"])
    task_updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "tasks_task"')]
    assert len(task_updates) == 1


def test_renumbering_keeps_the_order_when_neighbours_touch(team: Team, abc) -> None:
    todo = team.columns[0]
    # Squeeze: keep inserting right after "a" until the gap is exhausted (about 16 halvings).
    for _ in range(20):
        assert move(team, abc["c"], todo, after=abc["a"]).status_code == 200
        assert move(team, abc["b"], todo, after=abc["a"]).status_code == 200
    assert order(team, todo) == ["a", "b", "c"]
    positions = list(Task.objects.filter(column=todo).order_by("position").values_list("position", flat=True))
    assert len(set(positions)) == 3


def test_move_validation(team: Team, abc) -> None:
    todo, doing = team.columns[0], team.columns[1]
    assert move(team, abc["a"], doing, before=abc["b"]).status_code == 400  # anchor in another column
    assert move(team, abc["a"], todo, before=abc["a"]).status_code == 400
    both = team.clients["member"].post(
        f"/api/v1/tasks/{abc['a']['id']}/move/",
        {"column": str(todo.pk), "before": abc["b"]["id"], "after": abc["c"]["id"]},
        format="json",
    )
    assert both.status_code == 400
    foreign = team.clients["member"].post(
        f"/api/v1/tasks/{abc['a']['id']}/move/", {"column": "00000000-0000-0000-0000-000000000000"}, format="json"
    )
    assert foreign.status_code == 400
    assert order(team, todo) == ["a", "b", "c"]


def test_move_honours_if_match(team: Team, abc) -> None:
    url = f"/api/v1/tasks/{abc['a']['id']}/move/"
    body = {"column": str(team.columns[1].pk)}
    stale = team.clients["member"].post(url, body, format="json", HTTP_IF_MATCH='"7"')
    assert stale.status_code == 412
    assert stale.json()["column"] == str(team.columns[0].pk)
    assert team.clients["member"].post(url, body, format="json", HTTP_IF_MATCH='"1"').status_code == 200


def test_moves_record_task_moved(team: Team, abc) -> None:
    move(team, abc["a"], team.columns[2])
    event = Activity.objects.filter(project=team.project).order_by("-seq").first()
    assert event is not None
    assert event.verb == "task.moved"
    assert event.changes["column"] == [str(team.columns[0].pk), str(team.columns[2].pk)]
    assert event.data is not None
    assert event.data["column"] == str(team.columns[2].pk)


def test_wip_limit_refuses_a_full_column(team: Team, abc) -> None:
    doing = team.columns[1]
    team.clients["admin"].patch(team.url(f"columns/{doing.pk}/"), {"wip_limit": 1}, format="json")
    assert move(team, abc["a"], doing).status_code == 200
    assert move(team, abc["b"], doing).status_code == 409
    assert order(team, doing) == ["a"]


# Bulk


def test_bulk_update_all_fields(team: Team, abc) -> None:
    bug = Label.objects.create(project=team.project, name="bug", color="#ff0000")
    ids = [abc["a"]["id"], abc["b"]["id"]]
    response = team.clients["member"].post(
        "/api/v1/tasks/bulk/",
        {
            "ids": ids,
            "set": {
                "column": str(team.columns[3].pk),
                "assignee": str(team.users["admin"].pk),
                "priority": "urgent",
                "labels_add": [str(bug.pk)],
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert {t["id"] for t in body} == set(ids)
    for task in body:
        assert task["is_done"] is True
        assert task["priority"] == "urgent"
        assert task["labels"] == [str(bug.pk)]
        assert task["assignee"] == str(team.users["admin"].pk)
    assert order(team, team.columns[3]) == ["a", "b"]
    removed = team.clients["member"].post(
        "/api/v1/tasks/bulk/", {"ids": ids, "set": {"labels_remove": [str(bug.pk)]}}, format="json"
    )
    assert all(task["labels"] == [] for task in removed.json())


def test_bulk_is_all_or_nothing(team: Team, abc) -> None:
    before = Activity.objects.count()
    cases = [
        {"ids": [abc["a"]["id"], "00000000-0000-0000-0000-000000000000"], "set": {"priority": "high"}},
        {"ids": [abc["a"]["id"]], "set": {"assignee": str(team.users["outsider"].pk)}},
        {"ids": [abc["a"]["id"]], "set": {"labels_add": ["00000000-0000-0000-0000-000000000000"]}},
        {"ids": [abc["a"]["id"]], "set": {}},
        {"ids": [], "set": {"priority": "high"}},
        {"ids": ["x"] * 201, "set": {"priority": "high"}},
    ]
    for body in cases:
        assert team.clients["member"].post("/api/v1/tasks/bulk/", body, format="json").status_code == 400, body
    assert Activity.objects.count() == before
    assert not Task.objects.filter(priority="high").exists()


# Columns


def test_columns_create_reorder_and_delete(team: Team, abc) -> None:
    admin = team.clients["admin"]
    qa = admin.post(team.url("columns/"), {"name": "QA", "position": 1, "wip_limit": 3}, format="json").json()
    names = [c["name"] for c in admin.get(team.url("columns/")).json()["results"]]
    assert names == ["To do", "QA", "In progress", "Review", "Done"]
    assert admin.patch(team.url(f"columns/{qa['id']}/"), {"position": 4}, format="json").json()["position"] == 4
    names = [c["name"] for c in admin.get(team.url("columns/")).json()["results"]]
    assert names == ["To do", "In progress", "Review", "Done", "QA"]
    todo = team.columns[0]
    assert admin.delete(team.url(f"columns/{todo.pk}/")).status_code == 409
    moved = admin.delete(team.url(f"columns/{todo.pk}/"), QUERY_STRING=f"move_to={team.columns[3].pk}")
    assert moved.status_code == 204
    done = Column.objects.get(project=team.project, name="Done")
    assert order(team, done) == ["a", "b", "c"]
    assert all(task.is_done for task in Task.objects.all())
    assert admin.delete(team.url(f"columns/{qa['id']}/"), QUERY_STRING="move_to=garbage").status_code == 400


def test_column_done_flag_carries_its_tasks(team: Team, abc) -> None:
    todo = team.columns[0]
    team.clients["admin"].patch(team.url(f"columns/{todo.pk}/"), {"is_done": True}, format="json")
    assert all(task.is_done and task.completed_at for task in Task.objects.all())


def test_column_validation(team: Team) -> None:
    admin = team.clients["admin"]
    assert admin.post(team.url("columns/"), {"name": ""}, format="json").status_code == 400
    assert admin.post(team.url("columns/"), {"name": "x", "wip_limit": 0}, format="json").status_code == 400
    assert admin.patch(team.url("columns/00000000-0000-0000-0000-000000000000/"), {}, format="json").status_code == 404


# Labels


def test_labels(team: Team) -> None:
    member = team.clients["member"]
    created = member.post(team.url("labels/"), {"name": "Bug", "color": "#FF0000"}, format="json")
    assert created.status_code == 201
    assert created.json()["color"] == "#ff0000"
    assert member.post(team.url("labels/"), {"name": "bug", "color": "#00ff00"}, format="json").status_code == 400
    for color in ("red", "#ff00", "#gggggg", "ff0000"):
        response = member.post(team.url("labels/"), {"name": "x", "color": color}, format="json")
        assert response.status_code == 400
        assert "color" in response.json()
    label_id = created.json()["id"]
    assert member.patch(team.url(f"labels/{label_id}/"), {"name": "Defect"}, format="json").json()["name"] == "Defect"
    assert member.delete(team.url(f"labels/{label_id}/")).status_code == 204
    assert not Label.objects.exists()


# Comments


def test_comments(team: Team, abc) -> None:
    url = f"/api/v1/tasks/{abc['a']['id']}/comments/"
    viewer = team.clients["viewer"]
    created = viewer.post(url, {"body": "Looks good", "author": str(team.users["owner"].pk)}, format="json")
    assert created.status_code == 201
    comment = created.json()
    assert comment["author"] == str(team.users["viewer"].pk)
    assert comment["edited"] is False
    edited = viewer.patch(f"/api/v1/comments/{comment['id']}/", {"body": "Looks great"}, format="json")
    assert edited.status_code == 200
    assert edited.json()["edited"] is True
    listed = team.clients["member"].get(url).json()
    assert [c["body"] for c in listed["results"]] == ["Looks great"]
    assert viewer.post(url, {"body": ""}, format="json").status_code == 400
    assert viewer.post(url, {"body": "x" * 20_001}, format="json").status_code == 400
    assert (
        team.clients["outsider"].patch(f"/api/v1/comments/{comment['id']}/", {"body": "x"}, format="json").status_code
        == 404
    )
    assert team.clients["outsider"].delete(f"/api/v1/comments/{comment['id']}/").status_code == 404
    verbs = list(Activity.objects.filter(task_id=abc["a"]["id"]).order_by("seq").values_list("verb", flat=True))
    assert verbs == ["task.created", "comment.created", "comment.updated"]
    assert Comment.objects.count() == 1


def test_positions_are_gapped(team: Team, abc) -> None:
    positions = [task["position"] for task in abc.values()]
    assert positions == [GAP, 2 * GAP, 3 * GAP]
