"""The accounts API over HTTP: /api/v1/auth/ (docs/api.md "Accounts")."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"
PASSWORD = "/api/v1/auth/password/"
NEW_PASSWORD = "a-brand-new-Passphrase-42"


def register(client: APIClient, **overrides: object):
    body = {"email": "ada@example.com", "username": "ada", "password": DEFAULT_PASSWORD, **overrides}
    return client.post(REGISTER, body, format="json")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def login(client: APIClient, **body: str):
    return client.post(LOGIN, {"password": DEFAULT_PASSWORD, **body}, format="json")


# Registration


def test_register_returns_the_user_and_a_working_token_pair(api_client: APIClient) -> None:
    response = register(api_client, full_name="Ada Lovelace")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert set(body["user"]) == {"id", "email", "username", "full_name", "date_joined"}
    assert body["user"]["full_name"] == "Ada Lovelace"
    me = bearer(body["access"]).get(ME)
    assert me.status_code == 200
    assert me.json()["username"] == "ada"


def test_register_ignores_privilege_fields(api_client: APIClient) -> None:
    response = register(api_client, is_staff=True, is_superuser=True, is_active=False, id="00000000-0000-0000-0000-0")
    assert response.status_code == 201
    user = User.objects.get(username="ada")
    assert (user.is_staff, user.is_superuser, user.is_active) == (False, False, True)
    assert str(user.pk) == response.json()["user"]["id"]


def test_email_is_one_account_regardless_of_case(api_client: APIClient) -> None:
    assert register(api_client, email="A@X.com", username="first").status_code == 201
    response = register(api_client, email="a@x.COM", username="second")
    assert response.status_code == 400
    assert "email" in response.json()
    assert User.objects.count() == 1


def test_usernames_are_unique_regardless_of_case(api_client: APIClient) -> None:
    assert register(api_client, email="one@x.com", username="Ada").status_code == 201
    response = register(api_client, email="two@x.com", username="ada")
    assert response.status_code == 400
    assert "username" in response.json()


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short1", "short"), ("password123", "common"), ("83749201938475", "numeric"), ("ada-lovelace-x", "similar")],
)
def test_weak_passwords_are_refused_by_djangos_validators(api_client: APIClient, password: str, reason: str) -> None:
    response = register(api_client, password=password, email="ada.lovelace@example.com", username="ada-lovelace")
    assert response.status_code == 400, reason
    assert "password" in response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "x" * 10_000 + "@example.com"}, "email"),
        ({"username": "u" * 10_000}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "nul\x00byte"}, "username"),
        ({"full_name": "n" * 10_000}, "full_name"),
        ({"password": "p" * 10_000}, "password"),
        ({"username": ["a", "list"]}, "username"),
        ({"email": None}, "email"),
    ],
)
def test_bad_registration_input_is_a_400_naming_the_field(api_client: APIClient, overrides: dict, field: str) -> None:
    response = register(api_client, **overrides)
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize("missing", ["email", "username", "password"])
def test_missing_fields_are_named(api_client: APIClient, missing: str) -> None:
    body = {"email": "ada@example.com", "username": "ada", "password": DEFAULT_PASSWORD}
    del body[missing]
    response = api_client.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert missing in response.json()


def test_malformed_json_is_a_400(api_client: APIClient) -> None:
    response = api_client.post(REGISTER, data='{"email": ', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not User.objects.exists()


def test_an_oversized_body_is_a_413(api_client: APIClient) -> None:
    body = '{"full_name": "' + "x" * 3_000_000 + '"}'
    response = api_client.post(REGISTER, data=body, content_type="application/json")
    assert response.status_code == 413
    assert not User.objects.exists()


def test_unsupported_media_type_is_a_415(api_client: APIClient) -> None:
    response = api_client.post(REGISTER, data="email=x", content_type="text/plain")
    assert response.status_code == 415


# Login


def test_login_by_email_any_case_and_by_username(api_client: APIClient, user: User) -> None:
    by_email = login(api_client, email=user.email.upper())
    assert by_email.status_code == 200, by_email.content
    assert by_email.json()["user"]["id"] == str(user.pk)
    by_username = login(api_client, username=user.username)
    assert by_username.status_code == 200
    assert set(by_username.json()) == {"user", "access", "refresh"}
    user.refresh_from_db()
    assert user.last_login is not None


def test_wrong_password_and_unknown_account_get_the_same_401(api_client: APIClient, user: User) -> None:
    wrong = api_client.post(LOGIN, {"email": user.email, "password": "not-the-password"}, format="json")
    unknown = api_client.post(LOGIN, {"email": "nobody@example.com", "password": "not-the-password"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong["WWW-Authenticate"].startswith("Bearer")


def test_inactive_users_cannot_log_in(api_client: APIClient) -> None:
    inactive = UserFactory.create(is_active=False)
    response = login(api_client, email=inactive.email)
    assert response.status_code == 401
    unknown = login(api_client, email="nobody@example.com")
    assert response.json() == unknown.json()


def test_login_needs_an_email_or_username(api_client: APIClient) -> None:
    response = api_client.post(LOGIN, {"password": "x"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()


def test_a_stale_authorization_header_does_not_block_login(api_client: APIClient, user: User) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert login(api_client, username=user.username).status_code == 200


# Tokens


def test_refresh_rotates_and_the_used_token_is_refused(api_client: APIClient, user: User) -> None:
    first = login(api_client, username=user.username).json()["refresh"]
    rotated = api_client.post(REFRESH, {"refresh": first}, format="json")
    assert rotated.status_code == 200
    pair = rotated.json()
    assert set(pair) == {"access", "refresh"}
    assert pair["refresh"] != first
    assert bearer(pair["access"]).get(ME).status_code == 200
    reused = api_client.post(REFRESH, {"refresh": first}, format="json")
    assert reused.status_code == 401
    # The rotated token still works once.
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize("garbage", ["", "not.a.jwt", "x" * 5000])
def test_refresh_with_garbage_is_refused(api_client: APIClient, garbage: str) -> None:
    response = api_client.post(REFRESH, {"refresh": garbage}, format="json")
    assert response.status_code in {400, 401}
    assert response.status_code == (400 if garbage in {"", "x" * 5000} else 401)


def test_a_refresh_token_is_never_an_access_token(api_client: APIClient, user: User) -> None:
    refresh = login(api_client, username=user.username).json()["refresh"]
    assert bearer(refresh).get(ME).status_code == 401


def test_an_access_token_cannot_be_used_to_refresh(api_client: APIClient, user: User) -> None:
    access = login(api_client, username=user.username).json()["access"]
    assert api_client.post(REFRESH, {"refresh": access}, format="json").status_code == 401


def test_logout_revokes_that_refresh_token(api_client: APIClient, user: User) -> None:
    tokens = login(api_client, username=user.username).json()
    other = login(api_client, username=user.username).json()
    assert api_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 204
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    # Other sessions are untouched.
    assert api_client.post(REFRESH, {"refresh": other["refresh"]}, format="json").status_code == 200


def test_refresh_is_refused_once_the_user_is_deactivated(api_client: APIClient, user: User) -> None:
    tokens = login(api_client, username=user.username).json()
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert bearer(tokens["access"]).get(ME).status_code == 401


def test_refresh_of_a_deleted_user_is_a_401_not_a_500(api_client: APIClient, user: User) -> None:
    tokens = login(api_client, username=user.username).json()
    User.objects.filter(pk=user.pk).delete()
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401


# Password


def test_password_change_revokes_every_earlier_refresh_token(api_client: APIClient, user: User) -> None:
    sessions = [login(api_client, username=user.username).json() for _ in range(2)]
    client = bearer(sessions[0]["access"])
    response = client.post(PASSWORD, {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 204
    for session in sessions:
        assert api_client.post(REFRESH, {"refresh": session["refresh"]}, format="json").status_code == 401
        assert bearer(session["access"]).get(ME).status_code == 401
    assert login(api_client, username=user.username).status_code == 401
    fresh = api_client.post(LOGIN, {"username": user.username, "password": NEW_PASSWORD}, format="json")
    assert fresh.status_code == 200


def test_password_change_needs_the_old_password(auth_client: APIClient, user: User) -> None:
    response = auth_client.post(PASSWORD, {"old_password": "wrong", "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 400
    assert "old_password" in response.json()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_validates_the_new_password(auth_client: APIClient, user: User) -> None:
    response = auth_client.post(PASSWORD, {"old_password": DEFAULT_PASSWORD, "new_password": "123"}, format="json")
    assert response.status_code == 400
    assert "new_password" in response.json()


def test_password_change_needs_authentication(api_client: APIClient) -> None:
    response = api_client.post(PASSWORD, {"old_password": "a", "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 401


# Profile


def test_me_shows_the_current_user(auth_client: APIClient, user: User) -> None:
    response = auth_client.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.pk),
        "email": user.email,
        "username": user.username,
        "full_name": user.full_name,
        "date_joined": response.json()["date_joined"],
    }


def test_me_edits_full_name_and_username_only(auth_client: APIClient, user: User) -> None:
    response = auth_client.patch(
        ME,
        {"full_name": "Grace Hopper", "username": "grace", "email": "evil@example.com", "is_staff": True},
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.full_name, user.username) == ("Grace Hopper", "grace")
    assert user.email != "evil@example.com"
    assert not user.is_staff


def test_me_patch_leaves_unsent_fields_alone(auth_client: APIClient, user: User) -> None:
    before = user.full_name
    assert auth_client.patch(ME, {"username": "renamed"}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.full_name == before


def test_me_refuses_a_taken_username(auth_client: APIClient, user: User) -> None:
    UserFactory.create(username="Taken")
    response = auth_client.patch(ME, {"username": "taken"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()


def test_me_needs_authentication(api_client: APIClient) -> None:
    assert api_client.get(ME).status_code == 401


def test_session_login_works_for_the_browsable_api_with_csrf(user: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(ME).status_code == 200
    # Session writes need the CSRF token.
    assert client.patch(ME, {"full_name": "X"}, format="json").status_code == 403
