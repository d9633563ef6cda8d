"""Visibility rules beyond the role matrix (test_authorization_matrix.py): non-members see nothing."""

from __future__ import annotations

import pytest

from tasks.models import Membership, Project
from tests.factories import UserFactory
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db


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
    from tests.helpers.teams import client_for

    client = client_for(other)
    assert client.get("/api/v1/projects/").json()["count"] == 0
    assert client.get("/api/v1/tasks/").json()["count"] == 0
    assert Project.objects.count() == 1
    assert Membership.objects.filter(user=other).count() == 0
