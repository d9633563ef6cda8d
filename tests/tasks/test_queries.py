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
