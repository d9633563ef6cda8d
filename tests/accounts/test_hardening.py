"""Second-line protections: HTML login forms, token races, odd input, client identity."""

from __future__ import annotations

import threading
import uuid

import django_ratelimit.core
import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User
from accounts.services import refresh_tokens_revoke_all, token_pair_issue
from tests.accounts.test_throttling import FrozenClock
from tests.conftest import requires_postgres
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

FULLWIDTH_ADA = "\uff41\uff44\uff41"  # looks like "ada"; NFKC-normalizes to it


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(django_ratelimit.core, "time", frozen)
    return frozen


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
def test_html_login_forms_share_the_guessing_limit(clock: FrozenClock, path: str) -> None:
    staff = User.objects.create_superuser(username="boss", email="boss@example.com", password=DEFAULT_PASSWORD)
    for n in range(5):
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        response = client.post(path, {"username": staff.username, "password": "wrong"}, secure=True)
        assert response.status_code == 200  # the form again, with an error
    right = Client(REMOTE_ADDR="192.0.2.1").post(path, {"username": "boss", "password": DEFAULT_PASSWORD}, secure=True)
    assert right.status_code == 429
    assert int(right["Retry-After"]) >= 1


def test_browsable_api_session_login_and_csrf_protected_writes(user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/api-auth/login/", secure=True)
    token = page.cookies["csrftoken"].value
    login = client.post(
        "/api-auth/login/",
        {"username": user.username, "password": DEFAULT_PASSWORD, "csrfmiddlewaretoken": token},
        secure=True,
        headers={"Referer": "https://testserver/api-auth/login/"},  # HTTPS CSRF checks the referer
    )
    assert login.status_code == 302
    assert client.get("/api/v1/auth/me/", secure=True).json()["username"] == user.username
    refused = client.patch("/api/v1/auth/me/", {"full_name": "X"}, content_type="application/json", secure=True)
    assert refused.status_code == 403
    csrf = client.cookies["csrftoken"].value
    accepted = client.patch(
        "/api/v1/auth/me/",
        {"full_name": "With token"},
        content_type="application/json",
        secure=True,
        headers={"X-CSRFToken": csrf, "Referer": "https://testserver/"},
    )
    assert accepted.status_code == 200
    assert accepted.json()["full_name"] == "With token"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth/register/", "/api/v1/auth/login/", "/api/v1/auth/refresh/", "/api/v1/auth/logout/"],
)
def test_deeply_nested_json_is_a_400(api_client: APIClient, path: str) -> None:
    body = "[" * 5000 + "]" * 5000
    response = api_client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"username": 12, "password": []},
        {"email": {"a": 1}, "password": "x"},
        {"email": None, "username": None, "password": None},
        {"username": "x\x00y", "password": "x"},
        {"username": "u" * 10_000, "password": "p" * 10_000},
    ],
)
def test_odd_login_input_is_a_4xx(api_client: APIClient, body: dict) -> None:
    response = api_client.post("/api/v1/auth/login/", body, format="json")
    assert 400 <= response.status_code < 500


def test_look_alike_usernames_are_one_name(api_client: APIClient) -> None:
    first = api_client.post(
        "/api/v1/auth/register/",
        {"email": "a@example.com", "username": "ada", "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert first.status_code == 201
    fullwidth = api_client.post(
        "/api/v1/auth/register/",
        {"email": "b@example.com", "username": FULLWIDTH_ADA, "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert fullwidth.status_code == 400
    assert "username" in fullwidth.json()
    login = api_client.post(
        "/api/v1/auth/login/", {"username": FULLWIDTH_ADA.upper(), "password": DEFAULT_PASSWORD}, format="json"
    )
    assert login.status_code == 200


def test_register_never_honours_a_client_chosen_id(api_client: APIClient) -> None:
    chosen = str(uuid.uuid4())
    response = api_client.post(
        "/api/v1/auth/register/",
        {"email": "a@example.com", "username": "ada", "password": DEFAULT_PASSWORD, "id": chosen},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["user"]["id"] != chosen
    assert not User.objects.filter(pk=chosen).exists()


def test_unknown_accounts_still_run_the_password_hasher(api_client: APIClient, monkeypatch) -> None:
    calls: list[str] = []
    original = MD5PasswordHasher.encode

    def counting(self, password, salt):
        calls.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    api_client.post("/api/v1/auth/login/", {"email": "ghost@example.com", "password": "guess"}, format="json")
    assert calls == ["guess"]  # same work as checking a real account's password


def test_drf_throttles_ignore_a_spoofed_forwarded_for(monkeypatch, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "3/minute"})
    client = APIClient(REMOTE_ADDR="203.0.113.5")
    codes = [
        client.post("/api/v1/auth/refresh/", {}, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_drf_throttles_group_an_ipv6_64(monkeypatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "3/minute"})
    codes = [
        APIClient(REMOTE_ADDR=f"2001:db8:1:2::{n + 1}").post("/api/v1/auth/refresh/", {}, format="json").status_code
        for n in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    other_network = APIClient(REMOTE_ADDR="2001:db8:9:9::1").post("/api/v1/auth/refresh/", {}, format="json")
    assert other_network.status_code == 400


def test_guessing_the_old_password_is_throttled(auth_client: APIClient) -> None:
    body = {"old_password": "wrong", "new_password": "a-brand-new-Passphrase-42"}
    codes = [auth_client.post("/api/v1/auth/password/", body, format="json").status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]


def test_revoke_all_blacklists_every_live_refresh_token(api_client: APIClient, user: User) -> None:
    pairs = [token_pair_issue(user=user) for _ in range(3)]
    assert refresh_tokens_revoke_all(user=user) == 3
    for pair in pairs:
        assert api_client.post("/api/v1/auth/refresh/", {"refresh": pair.refresh}, format="json").status_code == 401


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["refresh", "logout"])
def test_a_refresh_token_is_used_at_most_once_under_concurrency(second: str) -> None:
    user = UserFactory.create()
    refresh = token_pair_issue(user=user).refresh
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def use(action: str) -> None:
        try:
            barrier.wait()
            response = APIClient().post(f"/api/v1/auth/{action}/", {"refresh": refresh}, format="json")
            codes.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=use, args=(action,)) for action in ("refresh", second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Exactly one use wins (200 for a refresh, 204 for a logout); the other is refused.
    assert len(codes) == 2
    assert codes.count(401) == 1
    assert set(codes) - {401} <= {200, 204}
