"""Every endpoint by every role: owner > admin > member > viewer; non-members get 404."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from tasks.models import Comment, Label, Membership, Project, Sprint, Task, TimeEntry
from tests.factories import UserFactory
from tests.tasks.conftest import ROLES, Team

pytestmark = pytest.mark.django_db

# What each role gets; roles not listed get the code of the next lower role.
Expect = dict[str, int]


def expect(owner: int, admin: int, member: int, viewer: int, outsider: int = 404) -> Expect:
    return {"owner": owner, "admin": admin, "member": member, "viewer": viewer, "outsider": outsider}


def label_of(team: Team) -> Label:
    return Label.objects.create(project=team.project, name="bug", color="#ff0000")


CASES: list[tuple[str, Callable[[Team], tuple[str, str, dict[str, Any]]], Expect]] = [
    ("read project", lambda t: ("get", t.url(), {}), expect(200, 200, 200, 200)),
    ("edit project", lambda t: ("patch", t.url(), {"name": "New"}), expect(200, 200, 403, 403)),
    ("list members", lambda t: ("get", t.url("members/"), {}), expect(200, 200, 200, 200)),
    (
        "add member",
        lambda t: ("post", t.url("members/"), {"user": str(UserFactory.create().pk), "role": "member"}),
        expect(201, 201, 403, 403),
    ),
    (
        "grant admin",
        lambda t: ("post", t.url("members/"), {"user": str(UserFactory.create().pk), "role": "admin"}),
        expect(201, 403, 403, 403),
    ),
    (
        "change a member's role",
        lambda t: ("patch", t.url(f"members/{t.users['member'].pk}/"), {"role": "viewer"}),
        expect(200, 200, 403, 403),
    ),
    (
        "remove a viewer",
        lambda t: ("delete", t.url(f"members/{t.users['viewer'].pk}/"), {}),
        # the viewer removing themself is leaving, which anyone may do
        expect(204, 204, 403, 204),
    ),
    ("list columns", lambda t: ("get", t.url("columns/"), {}), expect(200, 200, 200, 200)),
    ("add column", lambda t: ("post", t.url("columns/"), {"name": "QA"}), expect(201, 201, 403, 403)),
    (
        "rename column",
        lambda t: ("patch", t.url(f"columns/{t.columns[0].pk}/"), {"name": "Backlog"}),
        expect(200, 200, 403, 403),
    ),
    ("delete column", lambda t: ("delete", t.url(f"columns/{t.columns[1].pk}/"), {}), expect(204, 204, 403, 403)),
    ("list labels", lambda t: ("get", t.url("labels/"), {}), expect(200, 200, 200, 200)),
    (
        "add label",
        lambda t: ("post", t.url("labels/"), {"name": "bug", "color": "#ff0000"}),
        expect(201, 201, 201, 403),
    ),
    (
        "edit label",
        lambda t: ("patch", t.url(f"labels/{label_of(t).pk}/"), {"color": "#00ff00"}),
        expect(200, 200, 200, 403),
    ),
    ("delete label", lambda t: ("delete", t.url(f"labels/{label_of(t).pk}/"), {}), expect(204, 204, 204, 403)),
    ("board", lambda t: ("get", t.url("board/"), {}), expect(200, 200, 200, 200)),
    ("activity", lambda t: ("get", t.url("activity/"), {}), expect(200, 200, 200, 200)),
    (
        "create task",
        lambda t: ("post", "/api/v1/tasks/", {"project": str(t.project.pk), "title": "x"}),
        expect(201, 201, 201, 403),
    ),
    ("read task", lambda t: ("get", f"/api/v1/tasks/{t.create_task()['id']}/", {}), expect(200, 200, 200, 200)),
    (
        "edit task",
        lambda t: ("patch", f"/api/v1/tasks/{t.create_task()['id']}/", {"title": "y"}),
        expect(200, 200, 200, 403),
    ),
    ("delete task", lambda t: ("delete", f"/api/v1/tasks/{t.create_task()['id']}/", {}), expect(204, 204, 204, 403)),
    (
        "move task",
        lambda t: ("post", f"/api/v1/tasks/{t.create_task()['id']}/move/", {"column": str(t.columns[2].pk)}),
        expect(200, 200, 200, 403),
    ),
    (
        "bulk update",
        lambda t: ("post", "/api/v1/tasks/bulk/", {"ids": [t.create_task()["id"]], "set": {"priority": "high"}}),
        # ids a caller cannot see are refused like unknown ids: 400, never a leak
        expect(200, 200, 200, 403, outsider=400),
    ),
    (
        "list comments",
        lambda t: ("get", f"/api/v1/tasks/{t.create_task()['id']}/comments/", {}),
        expect(200, 200, 200, 200),
    ),
    (
        "comment",
        lambda t: ("post", f"/api/v1/tasks/{t.create_task()['id']}/comments/", {"body": "hi"}),
        expect(201, 201, 201, 201),
    ),
    (
        "task history",
        lambda t: ("get", f"/api/v1/tasks/{t.create_task()['id']}/activity/", {}),
        expect(200, 200, 200, 200),
    ),
    (
        "delete someone else's comment",
        lambda t: ("delete", f"/api/v1/comments/{comment_by(t, 'viewer').pk}/", {}),
        expect(204, 204, 403, 204),  # admin+ delete anyone's; the author (viewer) their own
    ),
    (
        "edit someone else's comment",
        lambda t: ("patch", f"/api/v1/comments/{comment_by(t, 'viewer').pk}/", {"body": "edited"}),
        expect(403, 403, 403, 200),  # only the author (here the viewer) edits
    ),
    (
        "transfer project",
        lambda t: ("post", t.url("transfer/"), {"user": str(t.users["admin"].pk)}),
        expect(200, 403, 403, 403),
    ),
    ("delete project", lambda t: ("delete", t.url(), {}), expect(204, 403, 403, 403)),
    ("list sprints", lambda t: ("get", t.url("sprints/"), {}), expect(200, 200, 200, 200)),
    ("create sprint", lambda t: ("post", t.url("sprints/"), {"name": "S"}), expect(201, 201, 403, 403)),
    ("read sprint", lambda t: ("get", f"/api/v1/sprints/{sprint_of(t).pk}/", {}), expect(200, 200, 200, 200)),
    (
        "edit sprint",
        lambda t: ("patch", f"/api/v1/sprints/{sprint_of(t).pk}/", {"name": "T"}),
        expect(200, 200, 403, 403),
    ),
    ("delete sprint", lambda t: ("delete", f"/api/v1/sprints/{sprint_of(t).pk}/", {}), expect(204, 204, 403, 403)),
    ("start sprint", lambda t: ("post", f"/api/v1/sprints/{sprint_of(t).pk}/start/", {}), expect(200, 200, 403, 403)),
    (
        "complete sprint",
        lambda t: ("post", f"/api/v1/sprints/{sprint_of(t, active=True).pk}/complete/", {}),
        expect(200, 200, 403, 403),
    ),
    ("burndown", lambda t: ("get", f"/api/v1/sprints/{sprint_of(t).pk}/burndown/", {}), expect(200, 200, 200, 200)),
    ("velocity", lambda t: ("get", t.url("velocity/"), {}), expect(200, 200, 200, 200)),
    (
        "log time",
        lambda t: (
            "post",
            "/api/v1/time-entries/",
            {"task": t.create_task()["id"], "started_at": HOUR_AGO(), "minutes": 5},
        ),
        expect(201, 201, 201, 403),
    ),
    (
        "edit someone else's time",
        lambda t: ("patch", f"/api/v1/time-entries/{entry_of(t).pk}/", {"note": "x"}),
        expect(200, 200, 403, 403),
    ),
    (
        "delete someone else's time",
        lambda t: ("delete", f"/api/v1/time-entries/{entry_of(t).pk}/", {}),
        expect(204, 204, 403, 403),
    ),
    (
        "start a timer",
        lambda t: ("post", f"/api/v1/tasks/{t.create_task()['id']}/timer/start/", {}),
        expect(201, 201, 201, 403),
    ),
    ("time report", lambda t: ("get", t.url("time-report/"), {}), expect(200, 200, 200, 200)),
    ("list time entries", lambda t: ("get", "/api/v1/time-entries/", {}), expect(200, 200, 200, 200, outsider=200)),
    ("current timer", lambda t: ("get", "/api/v1/timer/", {}), expect(204, 204, 204, 204, outsider=204)),
    ("stop a timer", lambda t: ("post", "/api/v1/timer/stop/", {}), expect(404, 404, 404, 404)),
]


def HOUR_AGO() -> str:
    return (timezone.now() - datetime.timedelta(hours=1)).isoformat()


def entry_of(team: Team) -> TimeEntry:
    """An entry logged by a second member, so no role in the matrix owns it."""
    from tasks.services.time import time_entry_create

    author = UserFactory.create()
    Membership.objects.create(project=team.project, user=author, role="member")
    task = Task.objects.get(pk=team.create_task()["id"])
    return time_entry_create(
        actor=author, task=task, started_at=timezone.now() - datetime.timedelta(hours=2), minutes=10
    )


def sprint_of(team: Team, active: bool = False) -> Sprint:
    sprint = Sprint.objects.create(
        project=team.project,
        name="S",
        start_date=datetime.date(2026, 3, 2),
        end_date=datetime.date(2026, 3, 6),
        status="active" if active else "planned",
    )
    return sprint


def comment_by(team: Team, role: str) -> Comment:
    task = team.create_task()
    response = team.clients[role].post(f"/api/v1/tasks/{task['id']}/comments/", {"body": "mine"}, format="json")
    return Comment.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "request_of", "expected"), CASES, ids=[case[0] for case in CASES])
def test_role_matrix(team: Team, role: str, name: str, request_of, expected: Expect) -> None:
    method, url, body = request_of(team)
    response = getattr(team.clients[role], method)(url, body, format="json")
    assert response.status_code == expected[role], (name, role, response.content)


def test_non_members_cannot_tell_a_project_exists(team: Team) -> None:
    outsider = team.clients["outsider"]
    real = outsider.get(team.url())
    missing = outsider.get("/api/v1/projects/00000000-0000-0000-0000-000000000000/")
    garbage = outsider.get("/api/v1/projects/not-a-uuid/")
    assert real.status_code == missing.status_code == garbage.status_code == 404
    assert real.json() == missing.json() == garbage.json()


def test_anonymous_requests_are_401(team: Team, api_client) -> None:
    assert api_client.get("/api/v1/projects/").status_code == 401
    assert api_client.get(team.url("board/")).status_code == 401
    assert api_client.get("/api/v1/tasks/").status_code == 401


def test_lists_only_show_the_callers_projects_and_tasks(team: Team) -> None:
    team.create_task(title="secret")
    other = UserFactory.create()
    from tests.tasks.conftest import client_for

    client = client_for(other)
    assert client.get("/api/v1/projects/").json()["count"] == 0
    assert client.get("/api/v1/tasks/").json()["count"] == 0
    assert Project.objects.count() == 1
    assert Membership.objects.filter(user=other).count() == 0
