"""Query counts stay constant in the number of rows (list, board, activity, members), and
writes stay cheap. A wrong count fails with the SQL that ran (tests/helpers/queries.py)."""

from __future__ import annotations

import pytest

from tasks.models import Label, Membership
from tests.factories import UserFactory
from tests.helpers.queries import Queries, assert_at_most, assert_constant, captured
from tests.helpers.teams import Team

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


def read(team: Team, url: str, **params: str) -> Queries:
    with captured() as queries:
        response = team.clients["viewer"].get(url, params)
    assert response.status_code == 200, response.content
    return queries


@pytest.mark.parametrize(
    ("url", "params", "most"),
    [
        # (user, ETag, the page with its label ids and its count; filtered: the count apart;
        # the board: user, project, ETag, columns, tasks)
        ("/api/v1/tasks/", {}, 3),
        ("/api/v1/tasks/", {"project": "<project>", "page_size": "5"}, 3),
        ("/api/v1/tasks/", {"ordering": "-priority", "search": "t"}, 4),
        ("board/", {}, 5),
        ("activity/", {}, 5),
        ("activity/", {"since": "1"}, 5),
        ("members/", {}, 5),
    ],
)
def test_query_count_does_not_grow_with_rows(team: Team, url: str, params: dict[str, str], most: int) -> None:
    full_url = url if url.startswith("/") else team.url(url)
    params = {name: str(team.project.pk) if value == "<project>" else value for name, value in params.items()}
    add_tasks(team, 3)
    few = read(team, full_url, **params)
    add_tasks(team, 9)
    many = read(team, full_url, **params)
    assert_constant(few, many, full_url)
    assert_at_most(many, most, full_url)


def test_project_list_query_count_does_not_grow_with_projects(team: Team) -> None:
    from tasks.services.projects import project_create

    viewer = team.users["viewer"]

    def add_projects(count: int) -> None:
        for _ in range(count):
            project = project_create(actor=UserFactory.create(), name="p", key=f"P{Membership.objects.count()}")
            Membership.objects.create(project=project, user=viewer, role="viewer")

    add_projects(2)
    few = read(team, "/api/v1/projects/")
    add_projects(8)
    many = read(team, "/api/v1/projects/")
    assert_constant(few, many, "the project list")
    assert_at_most(many, 4, "the project list")


def write(team: Team, method: str, url: str, body: dict) -> tuple[Queries, dict, str]:
    client = team.clients["member"]
    with captured() as queries:
        response = getattr(client, method)(url, body, format="json")
    assert response.status_code in (200, 201), response.content
    return queries, response.json(), response["ETag"]


@pytest.mark.parametrize(
    ("action", "most"),
    # Each counts BEGIN and COMMIT. The lock is an UPDATE of the project that takes the next
    # seq (and a create's task number) and reads the role under it; the task is read once,
    # with its labels; the answer is what the event recorded, built in memory: create = user,
    # BEGIN, lock, column (with its last position), INSERT task, INSERT activity, COMMIT.
    [("create", 7), ("update", 7), ("move", 8)],
)
def test_a_write_answers_with_what_its_event_recorded_in_few_queries(team: Team, action: str, most: int) -> None:
    add_tasks(team, 3)
    task = team.create_task(title="written")
    method, url, body = {
        "create": ("post", "/api/v1/tasks/", {"project": str(team.project.pk), "title": "new"}),
        "update": ("patch", f"/api/v1/tasks/{task['id']}/", {"title": "renamed", "priority": "high"}),
        "move": ("post", f"/api/v1/tasks/{task['id']}/move/", {"column": str(team.columns[2].pk)}),
    }[action]
    queries, shown, etag = write(team, method, url, body)
    events = team.clients["member"].get(team.url("activity/"), {"page_size": 100}).json()["results"]
    event = max(events, key=lambda event: event["seq"])
    assert event["data"] == shown
    # ...which is what a read of the task shows afterwards.
    read_back = team.clients["member"].get(f"/api/v1/tasks/{shown['id']}/")
    assert (read_back.json(), read_back["ETag"]) == (shown, etag)
    assert_at_most(queries, most, action)


def test_a_wrong_count_names_the_queries_that_ran(team: Team) -> None:
    few = read(team, team.url("members/"))
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_at_most(few, len(few) - 1, "the member list")
    message = str(failure.value)
    assert f"the member list ran {len(few)} queries, at most {len(few) - 1} expected" in message
    assert 'FROM "tasks_membership"' in message
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_constant(few, Queries([*few.sql, "SELECT 1 -- per row"]), "the member list")
    assert "SELECT 1 -- per row" in str(failure.value)
