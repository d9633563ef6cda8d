"""Conditional reads: task lists and boards carry an ETag and answer If-None-Match with 304
after one cheap query, and never with a stale or foreign body: a change, a membership
removal, a role change, a rename and a running timer each show on the very next request."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from tasks.models import Membership
from tests.factories import UserFactory
from tests.helpers.queries import assert_at_most, captured
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db

LIST = "/api/v1/tasks/"


def board(team: Team) -> str:
    return team.url("board/")


def get(client: APIClient, url: str, etag: str | None = None) -> tuple[int, str, bytes]:
    response = client.get(url, headers={"If-None-Match": etag} if etag else None)
    return response.status_code, response.get("ETag", ""), response.content


@pytest.mark.parametrize("which", ["list", "board"])
def test_an_unchanged_read_is_304_with_no_body_after_one_query(team: Team, which: str) -> None:
    team.create_task(title="One")
    url = LIST if which == "list" else board(team)
    client = team.clients["viewer"]
    status, etag, _ = get(client, url)
    assert status == 200
    assert etag.startswith('"')
    assert client.get(url)["Cache-Control"] == "private, no-cache"
    with captured() as queries:
        status, again, body = get(client, url, etag)
    assert (status, again, body) == (304, etag, b"")
    # The user (authentication), [the project and role,] the version: nothing else.
    assert_at_most(queries, 2 if which == "list" else 3, f"a 304 of the {which}")
    for header in (f"W/{etag}", f'"other", {etag}', "*"):
        assert get(client, url, header)[0] == 304, header
    assert get(client, url, '"other"')[0] == 200


@pytest.mark.parametrize("which", ["list", "board"])
def test_a_change_shows_on_the_very_next_request(team: Team, which: str) -> None:
    task = team.create_task(title="Before")
    url = LIST if which == "list" else board(team)
    viewer = team.clients["viewer"]
    _, etag, _ = get(viewer, url)
    team.clients["member"].patch(f"/api/v1/tasks/{task['id']}/", {"title": "After"}, format="json")
    status, fresh, body = get(viewer, url, etag)
    assert status == 200
    assert fresh != etag
    assert b"After" in body


def test_a_removed_member_gets_a_fresh_list_without_the_project(team: Team) -> None:
    team.create_task(title="Secret after removal")
    viewer = team.users["viewer"]
    client = team.clients["viewer"]
    _, etag, body = get(client, LIST)
    assert b"Secret after removal" in body
    Membership.objects.filter(project=team.project, user=viewer).delete()  # even without an event
    status, _, body = get(client, LIST, etag)
    assert status == 200
    assert b"Secret after removal" not in body
    assert get(client, board(team), etag)[0] == 404


def test_a_role_change_shows_on_the_board_at_once(team: Team) -> None:
    client = team.clients["viewer"]
    _, etag, body = get(client, board(team))
    assert b'"my_role":"viewer"' in body.replace(b" ", b"")
    Membership.objects.filter(project=team.project, user=team.users["viewer"]).update(role="member")
    status, _, body = get(client, board(team), etag)
    assert status == 200
    assert b'"my_role":"member"' in body.replace(b" ", b"")


def test_an_assignee_renaming_themselves_changes_the_lists(team: Team) -> None:
    member = team.users["member"]
    team.create_task(title="Named", assignee=str(member.pk))
    client = team.clients["viewer"]
    _, list_etag, _ = get(client, LIST)
    _, board_etag, _ = get(client, board(team))
    response = team.clients["member"].patch("/api/v1/auth/me/", {"full_name": "Renamed Person"}, format="json")
    assert response.status_code == 200
    for url, etag in ((LIST, list_etag), (board(team), board_etag)):
        status, _, body = get(client, url, etag)
        assert status == 200, url
        assert b"Renamed Person" in body


def test_a_running_timer_keeps_the_time_spent_fresh(team: Team) -> None:
    task = team.create_task(title="Timed")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert team.clients["member"].post(f"/api/v1/tasks/{task['id']}/timer/start/").status_code == 201
        _, etag, _ = get(team.clients["viewer"], LIST)
    with time_machine.travel(start + datetime.timedelta(minutes=3), tick=False):
        status, _, body = get(team.clients["viewer"], LIST, etag)
    assert status == 200
    assert b'"spent_minutes":3' in body.replace(b" ", b"")


def test_an_etag_is_never_someone_elses(team: Team) -> None:
    """Two people with the same projects and role still get their own ETags (`assignee=me`
    and the like make the bodies differ)."""
    twin = UserFactory.create()
    Membership.objects.create(project=team.project, user=twin, role="viewer")
    other = APIClient()
    other.force_authenticate(twin)
    _, mine, _ = get(team.clients["viewer"], f"{LIST}?assignee=me")
    status, theirs, _ = get(other, f"{LIST}?assignee=me", mine)
    assert status == 200
    assert theirs != mine
