"""Operators work in the admin: projects with inlines, searchable tasks, read-only activity."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD
from tests.helpers.queries import Queries, assert_constant, captured
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client) -> Client:
    root = User.objects.create_superuser(username="root", email="root@example.com", password=DEFAULT_PASSWORD)
    client.force_login(root)
    return client


def queries_for(client: Client, url: str) -> Queries:
    with captured() as queries:
        assert client.get(url, secure=True).status_code == 200
    return queries


@pytest.mark.parametrize("path", ["tasks/task/", "tasks/project/", "tasks/activity/"])
def test_changelists_do_not_grow_queries_with_rows(team: Team, operator: Client, path: str) -> None:
    team.create_task(assignee=str(team.users["member"].pk))
    queries_for(operator, f"/admin/{path}")  # warm per-session caches
    few = queries_for(operator, f"/admin/{path}")
    for _ in range(6):
        team.create_task(assignee=str(team.users["admin"].pk))
    assert_constant(few, queries_for(operator, f"/admin/{path}"), path)


def test_task_search_by_key_and_title(team: Team, operator: Client) -> None:
    team.create_task(title="Alpha")
    team.create_task(title="Beta")
    by_key = operator.get("/admin/tasks/task/", {"q": "TTD-2"}, secure=True).content
    assert b"Beta" in by_key
    assert b"Alpha" not in by_key
    assert b"Alpha" in operator.get("/admin/tasks/task/", {"q": "alph"}, secure=True).content


def test_project_page_has_member_and_column_inlines(team: Team, operator: Client) -> None:
    page = operator.get(f"/admin/tasks/project/{team.project.pk}/change/", secure=True)
    assert page.status_code == 200
    assert b"memberships-TOTAL_FORMS" in page.content
    assert b"columns-TOTAL_FORMS" in page.content


def test_activity_is_read_only(team: Team, operator: Client) -> None:
    team.create_task()
    from tasks.models import Activity

    event = Activity.objects.get()
    page = operator.get(f"/admin/tasks/activity/{event.pk}/change/", secure=True)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert operator.post(f"/admin/tasks/activity/{event.pk}/delete/", {"post": "yes"}, secure=True).status_code == 403


@pytest.mark.parametrize("page", ["project", "task"])
def test_change_pages_do_not_grow_queries_with_inline_rows(team: Team, operator: Client, page: str) -> None:
    from tasks.models import Membership
    from tests.factories import UserFactory

    task = team.create_task()
    url = f"/admin/tasks/{page}/{team.project.pk if page == 'project' else task['id']}/change/"
    queries_for(operator, url)  # warm per-session caches
    few = queries_for(operator, url)
    for n in range(6):
        Membership.objects.create(project=team.project, user=UserFactory.create(), role="member")
        team.clients["member"].post(f"/api/v1/tasks/{task['id']}/comments/", {"body": f"c{n}"}, format="json")
    assert_constant(few, queries_for(operator, url), url)


ADMIN_PAGES = [
    "accounts/user/",
    "tasks/project/",
    "tasks/membership/",
    "tasks/column/",
    "tasks/label/",
    "tasks/sprint/",
    "tasks/task/",
    "tasks/comment/",
    "tasks/activity/",
    "tasks/timeentry/",
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_every_model_has_an_admin_page_for_staff_only(team: Team, operator: Client, page: str) -> None:
    team.create_task()
    assert operator.get(f"/admin/{page}", secure=True).status_code == 200
    anonymous = Client().get(f"/admin/{page}", secure=True)
    assert anonymous.status_code == 302
    plain = Client()
    plain.force_login(team.users["member"])
    assert plain.get(f"/admin/{page}", secure=True).status_code == 302  # to the admin login


@pytest.mark.parametrize(
    "page",
    ["tasks/project/", "tasks/membership/", "tasks/column/", "tasks/comment/", "tasks/label/", "tasks/timeentry/"],
)
def test_more_changelists_do_not_grow_queries_with_rows(team: Team, operator: Client, page: str) -> None:
    from tasks.models import Column, Label, Membership
    from tasks.services.projects import project_create
    from tests.factories import UserFactory

    def add_rows(n: int) -> None:
        for i in range(n):
            task = team.create_task(title=f"t{i}")
            team.clients["member"].post(f"/api/v1/tasks/{task['id']}/comments/", {"body": "c"}, format="json")
            Label.objects.create(project=team.project, name=f"l{Label.objects.count()}", color="#000000")
            Membership.objects.create(project=team.project, user=UserFactory.create(), role="member")
            Column.objects.create(project=team.project, name=f"c{i}", position=10 + i)
            project_create(actor=UserFactory.create(), name="p", key=f"X{Column.objects.count()}")

    add_rows(1)
    queries_for(operator, f"/admin/{page}")
    few = queries_for(operator, f"/admin/{page}")
    add_rows(5)
    assert_constant(few, queries_for(operator, f"/admin/{page}"), page)
