"""Query counts stay constant in the number of rows (list, board, activity, members)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import Label, Membership
from tests.factories import UserFactory
from tests.tasks.conftest import Team

pytestmark = pytest.mark.django_db


def add_tasks(team: Team, count: int) -> None:
    labels = [
        Label.objects.create(project=team.project, name=f"l{len(Label.objects.all())}-{n}", color="#123456")
        for n in range(2)
    ]
    for n in range(count):
        user = UserFactory.create()
        Membership.objects.create(project=team.project, user=user, role="member")
        team.create_task(
            title=f"t{n}",
            assignee=str(user.pk),
            labels=[str(label.pk) for label in labels],
            column=str(team.columns[n % 4].pk),
        )


def count_queries(team: Team, url: str, **params: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = team.clients["viewer"].get(url, params)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize(
    ("url", "params", "most"),
    [
        ("/api/v1/tasks/", {}, 5),
        ("/api/v1/tasks/", {"ordering": "-priority", "search": "t"}, 5),
        ("board/", {}, 6),
        ("activity/", {}, 5),
        ("activity/", {"since": "1"}, 5),
        ("members/", {}, 5),
    ],
)
def test_query_count_does_not_grow_with_rows(team: Team, url: str, params: dict[str, str], most: int) -> None:
    full_url = url if url.startswith("/") else team.url(url)
    add_tasks(team, 3)
    few = count_queries(team, full_url, **params)
    add_tasks(team, 9)
    many = count_queries(team, full_url, **params)
    assert few == many, (few, many)
    assert many <= most, many


def test_project_list_query_count_does_not_grow_with_projects(team: Team) -> None:
    from tasks.services.projects import project_create

    viewer = team.users["viewer"]

    def add_projects(count: int) -> None:
        for _ in range(count):
            project = project_create(actor=UserFactory.create(), name="p", key=f"P{Membership.objects.count()}")
            Membership.objects.create(project=project, user=viewer, role="viewer")

    add_projects(2)
    few = count_queries(team, "/api/v1/projects/")
    add_projects(8)
    many = count_queries(team, "/api/v1/projects/")
    assert few == many <= 4


def write(team: Team, method: str, url: str, body: dict) -> tuple[int, dict, str]:
    client = team.clients["member"]
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, body, format="json")
    assert response.status_code in (200, 201), response.content
    return len(queries), response.json(), response["ETag"]


@pytest.mark.parametrize(
    ("action", "most"),
    # Each counts BEGIN and COMMIT. The answer is the representation the event recorded
    # inside the transaction, not read a second time.
    [("create", 14), ("update", 14), ("move", 16)],
)
def test_a_write_answers_with_what_its_event_recorded_in_few_queries(team: Team, action: str, most: int) -> None:
    add_tasks(team, 3)
    task = team.create_task(title="written")
    method, url, body = {
        "create": ("post", "/api/v1/tasks/", {"project": str(team.project.pk), "title": "new"}),
        "update": ("patch", f"/api/v1/tasks/{task['id']}/", {"title": "renamed", "priority": "high"}),
        "move": ("post", f"/api/v1/tasks/{task['id']}/move/", {"column": str(team.columns[2].pk)}),
    }[action]
    count, shown, etag = write(team, method, url, body)
    events = team.clients["member"].get(team.url("activity/"), {"page_size": 100}).json()["results"]
    event = max(events, key=lambda event: event["seq"])
    assert event["data"] == shown
    # ...which is what a read of the task shows afterwards.
    read = team.clients["member"].get(f"/api/v1/tasks/{shown['id']}/")
    assert (read.json(), read["ETag"]) == (shown, etag)
    assert count <= most, count
