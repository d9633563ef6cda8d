"""Operators manage users in the Django admin."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def operator(client: Client) -> User:
    admin = User.objects.create_superuser(username="root", email="root@example.com", password=DEFAULT_PASSWORD)
    client.force_login(admin)
    return admin


def test_changelist_searches_by_email_and_username(client: Client, operator: User) -> None:
    UserFactory.create(username="alice", email="alice@corp.example")
    UserFactory.create(username="bob", email="bob@other.example")
    page = client.get(CHANGELIST, {"q": "corp.example"}, secure=True)
    assert page.status_code == 200
    assert b"alice" in page.content
    assert b"bob@other.example" not in page.content
    assert b"bob" in client.get(CHANGELIST, {"q": "bob"}, secure=True).content


def test_changelist_filters_and_shows_last_login(client: Client, operator: User) -> None:
    UserFactory.create(username="sleeper", is_active=False)
    page = client.get(CHANGELIST, {"is_active__exact": "0"}, secure=True)
    assert page.status_code == 200
    assert b"sleeper" in page.content
    assert b"Last login" in page.content


def test_change_page_never_shows_the_password_hash(client: Client, operator: User) -> None:
    user = UserFactory.create()
    page = client.get(f"{CHANGELIST}{user.pk}/change/", secure=True)
    assert page.status_code == 200
    salt_and_hash = user.password.split("$", 1)[1]
    assert salt_and_hash.encode() not in page.content


def test_deactivate_action_stops_login_and_revokes_sessions(client: Client, operator: User) -> None:
    from rest_framework.test import APIClient

    user = UserFactory.create()
    api = APIClient()
    tokens = api.post(
        "/api/v1/auth/login/", {"username": user.username, "password": DEFAULT_PASSWORD}, format="json"
    ).json()
    response = client.post(
        CHANGELIST, {"action": "deactivate_users", "_selected_action": [str(user.pk), str(operator.pk)]}, secure=True
    )
    assert response.status_code == 302
    user.refresh_from_db()
    operator.refresh_from_db()
    assert not user.is_active
    assert operator.is_active  # an operator cannot lock themself out
    assert api.post("/api/v1/auth/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_non_staff_cannot_use_the_admin(client: Client) -> None:
    client.force_login(UserFactory.create())
    response = client.get(CHANGELIST, secure=True)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
