"""Strict JSON input (timetodo.inputs): regression tests for what the malformed-input corpus found."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from accounts.models import User
from tasks.models import Task, TimeEntry
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db


def test_a_number_for_a_string_field_is_refused_not_stored_as_text(api_client) -> None:
    # Found by the corpus: DRF stored {"username": 9223372036854775808} as "9223372036854775808".
    response = api_client.post(
        "/api/v1/auth/register/",
        {"email": "n@example.com", "username": 2**63, "password": "a-long-passphrase-42"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"username": ["Expected a string, got int."]}
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("story_points", "5", "Expected an integer, got str."),
        ("story_points", True, "Expected an integer, got bool."),
        ("story_points", 5.0, "Expected an integer, got float."),
        ("title", ["a"], "Expected a string, got list."),
        ("labels", "not-a-list", "Expected a list, got str."),
    ],
)
def test_json_values_must_have_the_fields_type(team: Team, field: str, value: object, message: str) -> None:
    body = {"project": str(team.project.pk), "title": "x", field: value}
    response = team.clients["member"].post("/api/v1/tasks/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not Task.objects.exists()


def test_list_items_are_checked_one_by_one(team: Team) -> None:
    body = {"project": str(team.project.pk), "title": "x", "labels": [7]}
    response = team.clients["member"].post("/api/v1/tasks/", body, format="json")
    assert response.json() == {"labels": {"0": ["Expected a string, got int."]}}


def test_a_nul_inside_a_date_is_refused(team: Team) -> None:
    # Found by the corpus: Python's datetime parsing stops at a NUL, so
    # "2026-11-28T10:00:00+00:00\x00junk" was accepted as a valid start.
    task = team.create_task()
    started = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    body = {"task": task["id"], "started_at": started + "\x00junk", "minutes": 5}
    response = team.clients["member"].post("/api/v1/time-entries/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"started_at": ["Null characters are not allowed."]}
    assert not TimeEntry.objects.exists()


def test_form_bodies_keep_working_with_string_values(team: Team) -> None:
    # The browsable API posts forms: every value is a string, and DRF parses it as before.
    body = {"project": str(team.project.pk), "title": "from a form", "story_points": "3"}
    response = team.clients["member"].post("/api/v1/tasks/", body, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["story_points"] == 3


def test_nested_objects_are_checked_too(team: Team) -> None:
    task = team.create_task()
    client = team.clients["member"]
    wrong = client.post("/api/v1/tasks/bulk/", {"ids": [task["id"]], "set": {"priority": 3}}, format="json")
    assert wrong.status_code == 400
    assert wrong.json() == {"set": {"priority": ["Expected a string, got int."]}}
    right = client.post("/api/v1/tasks/bulk/", {"ids": [task["id"]], "set": {"priority": "high"}}, format="json")
    assert right.status_code == 200, right.content
