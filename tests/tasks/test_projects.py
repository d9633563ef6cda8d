"""Projects, members and roles over HTTP."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tasks.models import Activity, Membership, Project, Task
from tests.factories import UserFactory
from tests.helpers.teams import Team, client_for

pytestmark = pytest.mark.django_db


def test_create_makes_the_caller_owner_with_the_default_columns(auth_client: APIClient, user) -> None:
    response = auth_client.post("/api/v1/projects/", {"name": "Apollo", "key": "apl", "owner": "x"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"] == "APL"
    assert body["owner"] == str(user.pk)
    assert body["my_role"] == "owner"
    assert body["status"] == "active"
    assert body["last_seq"] == 0
    columns = auth_client.get(f"/api/v1/projects/{body['id']}/columns/").json()["results"]
    assert [(c["name"], c["is_done"]) for c in columns] == [
        ("To do", False),
        ("In progress", False),
        ("Review", False),
        ("Done", True),
    ]


@pytest.mark.parametrize("key", ["A", "TOOLONGKEY1", "AB-C", "ÄB", "", "A B"])
def test_bad_keys_are_refused(auth_client: APIClient, key: str) -> None:
    response = auth_client.post("/api/v1/projects/", {"name": "X", "key": key}, format="json")
    assert response.status_code == 400
    assert "key" in response.json()
    assert not Project.objects.exists()


def test_keys_are_unique(team: Team) -> None:
    response = team.clients["outsider"].post("/api/v1/projects/", {"name": "Copy", "key": "ttd"}, format="json")
    assert response.status_code == 400
    assert "key" in response.json()


def test_server_owned_fields_cannot_be_set(team: Team) -> None:
    response = team.clients["owner"].patch(
        team.url(),
        {"owner": str(team.users["member"].pk), "last_seq": 99, "id": "x", "created_at": "2000-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200
    team.project.refresh_from_db()
    assert team.project.owner == team.users["owner"]
    assert team.project.last_seq == 0


def test_update_records_the_change(team: Team) -> None:
    response = team.clients["admin"].patch(team.url(), {"name": "Renamed", "status": "on_hold"}, format="json")
    assert response.status_code == 200
    assert response.json()["my_role"] == "admin"
    event = Activity.objects.get(project=team.project)
    assert event.verb == "project.updated"
    assert event.changes == {"name": ["Time to DO", "Renamed"], "status": ["active", "on_hold"]}
    assert event.data is not None
    assert event.data["name"] == "Renamed"


def test_list_filters_by_status(team: Team) -> None:
    client = team.clients["member"]
    assert client.get("/api/v1/projects/", {"status": "active"}).json()["count"] == 1
    assert client.get("/api/v1/projects/", {"status": "archived"}).json()["count"] == 0
    assert client.get("/api/v1/projects/", {"status": "bogus"}).status_code == 400


def test_delete_removes_everything(team: Team) -> None:
    team.create_task()
    assert team.clients["owner"].delete(team.url()).status_code == 204
    assert not Project.objects.exists()
    assert not Task.objects.exists()


def test_transfer_swaps_owner_and_admin(team: Team) -> None:
    response = team.clients["owner"].post(team.url("transfer/"), {"user": str(team.users["member"].pk)}, format="json")
    assert response.status_code == 200
    roles = dict(Membership.objects.filter(project=team.project).values_list("user__username", "role"))
    assert roles["member-user"] == "owner"
    assert roles["owner-user"] == "admin"
    team.project.refresh_from_db()
    assert team.project.owner == team.users["member"]
    verbs = list(Activity.objects.filter(project=team.project).order_by("seq").values_list("verb", flat=True))
    assert verbs == ["member.updated", "member.updated", "project.updated"]


def test_transfer_to_a_non_member_is_refused(team: Team) -> None:
    response = team.clients["owner"].post(
        team.url("transfer/"), {"user": str(team.users["outsider"].pk)}, format="json"
    )
    assert response.status_code == 400
    assert "user" in response.json()


# Members


def test_add_member_by_email_any_case(team: Team) -> None:
    newcomer = UserFactory.create(email="new@example.com")
    response = team.clients["admin"].post(team.url("members/"), {"email": "NEW@example.com"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"] == str(newcomer.pk)
    assert body["role"] == "member"
    assert body["user_detail"]["username"] == newcomer.username


def test_add_member_by_username_any_case(team: Team) -> None:
    newcomer = UserFactory.create(username="Grace")
    response = team.clients["admin"].post(team.url("members/"), {"username": "grace", "role": "viewer"}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["user"], response.json()["role"]) == (str(newcomer.pk), "viewer")
    unknown = team.clients["admin"].post(team.url("members/"), {"username": "nobody-here"}, format="json")
    assert (unknown.status_code, unknown.json()) == (400, {"username": ["No active user matches."]})
    both = team.clients["admin"].post(
        team.url("members/"), {"username": "grace", "email": "g@example.com"}, format="json"
    )
    assert both.status_code == 400
    assert team.project.memberships.count() == 5  # owner, admin, member, viewer and Grace


def test_add_member_errors(team: Team) -> None:
    admin = team.clients["admin"]
    assert admin.post(team.url("members/"), {"email": "ghost@example.com"}, format="json").status_code == 400
    assert admin.post(team.url("members/"), {"role": "member"}, format="json").status_code == 400
    again = admin.post(team.url("members/"), {"user": str(team.users["viewer"].pk)}, format="json")
    assert again.status_code == 409
    owner_role = team.clients["owner"].post(
        team.url("members/"), {"user": str(UserFactory.create().pk), "role": "owner"}, format="json"
    )
    assert owner_role.status_code == 400


def test_owner_cannot_be_removed_or_demoted(team: Team) -> None:
    owner_id = team.users["owner"].pk
    owner_url = team.url(f"members/{owner_id}/")
    assert team.clients["owner"].patch(owner_url, {"role": "member"}, format="json").status_code == 409
    assert team.clients["admin"].patch(owner_url, {"role": "member"}, format="json").status_code == 409
    assert (
        team.clients["owner"].patch(team.url(f"members/{owner_id}/"), {"role": "admin"}, format="json").status_code
        == 409
    )
    assert team.clients["owner"].delete(team.url(f"members/{owner_id}/")).status_code == 409
    assert team.clients["admin"].delete(team.url(f"members/{owner_id}/")).status_code == 409
    assert Membership.objects.filter(project=team.project, user_id=owner_id, role="owner").exists()


def test_admins_cannot_change_or_remove_other_admins(team: Team) -> None:
    second = UserFactory.create()
    Membership.objects.create(project=team.project, user=second, role="admin")
    admin = team.clients["admin"]
    assert admin.patch(team.url(f"members/{second.pk}/"), {"role": "member"}, format="json").status_code == 403
    assert admin.delete(team.url(f"members/{second.pk}/")).status_code == 403
    assert (
        team.clients["owner"].patch(team.url(f"members/{second.pk}/"), {"role": "member"}, format="json").status_code
        == 200
    )


def test_anyone_may_leave(team: Team) -> None:
    assert team.clients["admin"].delete(team.url(f"members/{team.users['admin'].pk}/")).status_code == 204
    assert team.clients["admin"].get(team.url()).status_code == 404


def test_removed_members_lose_their_assignments(team: Team) -> None:
    task = team.create_task(assignee=str(team.users["member"].pk))
    assert team.clients["admin"].delete(team.url(f"members/{team.users['member'].pk}/")).status_code == 204
    reloaded = team.clients["admin"].get(f"/api/v1/tasks/{task['id']}/").json()
    assert reloaded["assignee"] is None
    verbs = list(Activity.objects.filter(project=team.project).order_by("seq").values_list("verb", flat=True))
    assert verbs[-2:] == ["task.updated", "member.removed"]


def test_member_list_shows_users_and_roles(team: Team) -> None:
    body = team.clients["viewer"].get(team.url("members/")).json()
    assert body["count"] == 4
    roles = {m["user_detail"]["username"]: m["role"] for m in body["results"]}
    assert roles == {"owner-user": "owner", "admin-user": "admin", "member-user": "member", "viewer-user": "viewer"}


def test_a_member_of_another_project_sees_only_their_own(team: Team) -> None:
    stranger = UserFactory.create()
    client = client_for(stranger)
    created = client.post("/api/v1/projects/", {"name": "Mine", "key": "MINE"}, format="json")
    assert created.status_code == 201
    listed = client.get("/api/v1/projects/").json()
    assert [p["key"] for p in listed["results"]] == ["MINE"]
