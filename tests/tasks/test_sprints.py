"""Sprints over HTTP: planning, start, complete, burndown from the activity log, velocity."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from tasks.models import Activity, Task
from tests.helpers.teams import Team, client_for

pytestmark = pytest.mark.django_db


def create_sprint(team: Team, **values: Any) -> dict[str, Any]:
    body = {"name": "Sprint 1", "start_date": "2026-03-02", "end_date": "2026-03-06", **values}
    response = team.clients["admin"].post(team.url("sprints/"), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def sprint_url(sprint: dict[str, Any], suffix: str = "") -> str:
    return f"/api/v1/sprints/{sprint['id']}/{suffix}"


def test_create_list_edit(team: Team) -> None:
    sprint = create_sprint(team, goal="Ship the board")
    assert (sprint["status"], sprint["committed_points"], sprint["completed_points"]) == ("planned", None, None)
    listed = team.clients["viewer"].get(team.url("sprints/")).json()
    assert [s["name"] for s in listed["results"]] == ["Sprint 1"]
    edited = team.clients["admin"].patch(sprint_url(sprint), {"name": "Renamed"}, format="json")
    assert edited.json()["name"] == "Renamed"
    verbs = list(Activity.objects.order_by("seq").values_list("verb", flat=True))
    assert verbs == ["sprint.created", "sprint.updated"]


@pytest.mark.parametrize(
    "values",
    [
        {"start_date": "2026-03-06", "end_date": "2026-03-02"},
        {"name": ""},
        {"start_date": "someday"},
    ],
)
def test_bad_sprints_are_400(team: Team, values: dict[str, Any]) -> None:
    body = {"name": "S", **values}
    response = team.clients["admin"].post(team.url("sprints/"), body, format="json")
    assert response.status_code == 400


def test_an_edit_cannot_put_the_end_before_the_start(team: Team) -> None:
    sprint = create_sprint(team)
    response = team.clients["admin"].patch(sprint_url(sprint), {"end_date": "2026-03-01"}, format="json")
    assert response.status_code == 400
    assert "end_date" in response.json()


def test_deleting_a_sprint_moves_its_tasks_to_the_backlog(team: Team) -> None:
    sprint = create_sprint(team)
    task = team.create_task(sprint=sprint["id"])
    assert team.clients["admin"].delete(sprint_url(sprint)).status_code == 204
    assert team.clients["member"].get(f"/api/v1/tasks/{task['id']}/").json()["sprint"] is None
    verbs = list(Activity.objects.order_by("seq").values_list("verb", flat=True))
    assert verbs[-2:] == ["task.updated", "sprint.deleted"]


def test_start_commits_points_and_allows_one_active_sprint(team: Team) -> None:
    first, second = create_sprint(team), create_sprint(team, name="Sprint 2")
    team.create_task(sprint=first["id"], story_points=5)
    team.create_task(sprint=first["id"], story_points=3)
    team.create_task(story_points=8)  # not in the sprint
    started = team.clients["admin"].post(sprint_url(first, "start/"))
    assert started.status_code == 200
    assert (started.json()["status"], started.json()["committed_points"]) == ("active", 8)
    assert team.clients["admin"].post(sprint_url(second, "start/")).status_code == 409
    assert team.clients["admin"].post(sprint_url(first, "start/")).status_code == 409


def test_a_sprint_without_dates_cannot_start(team: Team) -> None:
    sprint = create_sprint(team, start_date=None, end_date=None)
    response = team.clients["admin"].post(sprint_url(sprint, "start/"))
    assert response.status_code == 400
    assert "start_date" in response.json()


def test_complete_records_points_and_moves_open_tasks(team: Team) -> None:
    sprint, next_sprint = create_sprint(team), create_sprint(team, name="Next")
    done = team.create_task(sprint=sprint["id"], story_points=5, column=str(team.columns[3].pk))
    open_task = team.create_task(sprint=sprint["id"], story_points=3)
    assert team.clients["admin"].post(sprint_url(sprint, "complete/"), {}, format="json").status_code == 409  # planned
    team.clients["admin"].post(sprint_url(sprint, "start/"))
    bad = team.clients["admin"].post(
        sprint_url(sprint, "complete/"), {"move_open_tasks_to": sprint["id"]}, format="json"
    )
    assert bad.status_code == 400
    response = team.clients["admin"].post(
        sprint_url(sprint, "complete/"), {"move_open_tasks_to": next_sprint["id"]}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["completed_points"]) == ("completed", 5)
    assert Task.objects.get(pk=open_task["id"]).sprint_id is not None
    assert str(Task.objects.get(pk=open_task["id"]).sprint_id) == next_sprint["id"]
    assert str(Task.objects.get(pk=done["id"]).sprint_id) == sprint["id"]
    # A completed sprint takes no new tasks.
    late = team.clients["member"].post(
        "/api/v1/tasks/", {"project": str(team.project.pk), "title": "late", "sprint": sprint["id"]}, format="json"
    )
    assert late.status_code == 400
    assert "sprint" in late.json()


def test_complete_to_the_backlog(team: Team) -> None:
    sprint = create_sprint(team)
    task = team.create_task(sprint=sprint["id"], story_points=2)
    team.clients["admin"].post(sprint_url(sprint, "start/"))
    team.clients["admin"].post(sprint_url(sprint, "complete/"), {"move_open_tasks_to": None}, format="json")
    assert Task.objects.get(pk=task["id"]).sprint_id is None


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


def fresh_tokens(team: Team) -> None:
    """Access tokens issued at the travelled-to time (a token from the future is refused)."""
    team.clients = {role: client_for(user) for role, user in team.users.items()}


def test_burndown_is_replayed_from_the_activity_log(team: Team) -> None:
    todo, done = str(team.columns[0].pk), str(team.columns[3].pk)
    with time_machine.travel(at(1), tick=False):
        fresh_tokens(team)
        sprint = create_sprint(team)  # Mon 2 .. Fri 6 March
        a = team.create_task(title="a", sprint=sprint["id"], story_points=5)
        b = team.create_task(title="b", sprint=sprint["id"], story_points=3)
        c = team.create_task(title="c", sprint=sprint["id"], story_points=2)
        team.clients["admin"].post(sprint_url(sprint, "start/"))
    with time_machine.travel(at(3), tick=False):  # Tue 3rd: a done
        fresh_tokens(team)
        team.clients["member"].post(f"/api/v1/tasks/{a['id']}/move/", {"column": done}, format="json")
    with time_machine.travel(at(4), tick=False):  # Wed 4th: c done, and b leaves the sprint
        fresh_tokens(team)
        team.clients["member"].post(f"/api/v1/tasks/{c['id']}/move/", {"column": done}, format="json")
        team.clients["member"].patch(f"/api/v1/tasks/{b['id']}/", {"sprint": None}, format="json")
    with time_machine.travel(at(5, 9), tick=False):  # Thu 5th, morning: a reopened
        fresh_tokens(team)
        team.clients["member"].post(f"/api/v1/tasks/{a['id']}/move/", {"column": todo}, format="json")
    with time_machine.travel(at(9), tick=False):
        fresh_tokens(team)
        body = team.clients["viewer"].get(sprint_url(sprint, "burndown/")).json()
    assert body["dates"] == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    assert body["total_points"] == 10
    assert body["remaining"] == [10, 5, 0, 5, 5]
    assert body["ideal"] == [10.0, 7.5, 5.0, 2.5, 0.0]
    # Today's state alone would say 5 for every day: the history is what counts. Days
    # still to come have no value yet.
    with time_machine.travel(at(4, 18), tick=False):
        fresh_tokens(team)
        midway = team.clients["viewer"].get(sprint_url(sprint, "burndown/")).json()
    assert midway["remaining"] == [10, 5, 0, None, None]


def test_velocity_over_the_last_sprints(team: Team) -> None:
    # Created in another order than they ran: velocity follows the sprints' dates.
    for n, (points_done, points_open) in [(3, (2, 2)), (1, (5, 3)), (2, (8, 0))]:
        sprint = create_sprint(team, name=f"S{n}", start_date=f"2026-0{n}-01", end_date=f"2026-0{n}-14")
        team.create_task(sprint=sprint["id"], story_points=points_done, column=str(team.columns[3].pk))
        team.create_task(sprint=sprint["id"], story_points=points_open)
        team.clients["admin"].post(sprint_url(sprint, "start/"))
        team.clients["admin"].post(sprint_url(sprint, "complete/"), {}, format="json")
    body = team.clients["viewer"].get(team.url("velocity/")).json()
    assert [(s["name"], s["committed_points"], s["completed_points"]) for s in body["sprints"]] == [
        ("S1", 8, 5),
        ("S2", 8, 8),
        ("S3", 4, 2),
    ]
    assert body["average"] == 5.0
    last_two = team.clients["viewer"].get(team.url("velocity/"), {"last": 2}).json()
    assert [s["name"] for s in last_two["sprints"]] == ["S2", "S3"]
    assert last_two["average"] == 5.0
    assert team.clients["viewer"].get(team.url("velocity/"), {"last": 0}).status_code == 400


def test_sprints_are_at_most_a_year_and_keep_their_dates_once_started(team: Team) -> None:
    too_long = team.clients["admin"].post(
        team.url("sprints/"), {"name": "Forever", "start_date": "0001-01-01", "end_date": "9999-12-31"}, format="json"
    )
    assert too_long.status_code == 400
    assert "end_date" in too_long.json()
    sprint = create_sprint(team)
    team.clients["admin"].post(sprint_url(sprint, "start/"))
    moved = team.clients["admin"].patch(sprint_url(sprint), {"start_date": None}, format="json")
    assert moved.status_code == 409
    assert team.clients["admin"].patch(sprint_url(sprint), {"goal": "still editable"}, format="json").status_code == 200


def test_burndown_ends_where_an_early_completion_left_it(team: Team) -> None:
    with time_machine.travel(at(1), tick=False):
        fresh_tokens(team)
        sprint = create_sprint(team)
        team.create_task(sprint=sprint["id"], story_points=6)
        gone = team.create_task(sprint=sprint["id"], story_points=4)
        team.clients["admin"].post(sprint_url(sprint, "start/"))
    with time_machine.travel(at(3), tick=False):
        fresh_tokens(team)
        team.clients["member"].delete(f"/api/v1/tasks/{gone['id']}/")  # a deleted task stops counting
    with time_machine.travel(at(4), tick=False):
        fresh_tokens(team)
        team.clients["admin"].post(sprint_url(sprint, "complete/"), {"move_open_tasks_to": None}, format="json")
    with time_machine.travel(at(9), tick=False):
        fresh_tokens(team)
        body = team.clients["viewer"].get(sprint_url(sprint, "burndown/")).json()
    assert body["remaining"] == [10, 6, 6, 6, 6]
