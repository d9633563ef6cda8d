"""The web app's pages through Django's test client: who sees what, forms, escaping, headers."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User
from tasks.models import Membership, Project
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db

XSS = '<script>alert(1)</script>"onmouseover="alert(2)'


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_landing_page_offers_sign_up_and_log_in() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/signup/"' in body
    assert 'href="/login/"' in body
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


def test_a_signed_in_visitor_goes_straight_to_the_projects(user: User) -> None:
    response = signed_in(user).get("/")
    assert (response.status_code, response["Location"]) == (302, "/projects/")


def test_pages_need_a_login_and_come_back_after_it(team: Team) -> None:
    board = f"/projects/{team.project.pk}/"
    response = Client().get(board)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={board}"
    client = Client()
    response = client.post(f"/login/?next={board}", {"username": "member-user", "password": DEFAULT_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, board)


@pytest.mark.parametrize("target", ["https://evil.example.net/", "//evil.example.net/", "/\\evil.example.net/"])
def test_next_is_honoured_only_for_local_paths(user: User, target: str) -> None:
    response = Client().post("/login/", {"username": user.username, "password": DEFAULT_PASSWORD, "next": target})
    assert (response.status_code, response["Location"]) == (302, "/projects/")


def test_a_wrong_password_is_said_on_the_form(user: User) -> None:
    response = Client().post("/login/", {"username": user.username, "password": "wrong-password-123"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_login_page_shares_the_api_login_limit(user: User, settings) -> None:
    settings.LOGIN_RATE = "3/m"
    client = Client()
    codes = [client.post("/login/", {"username": user.username, "password": "wrong"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = Client().post("/login/", {"username": user.username, "password": "wrong-password-123"})
    assert refused.status_code == 429
    assert refused["Retry-After"]
    assert "Too many login attempts: try again in" in refused.content.decode()
    assert 'name="username"' in refused.content.decode()  # the form, to try again later


def test_sign_up_creates_the_account_and_signs_in() -> None:
    client = Client()
    body = {"email": "new@example.com", "username": "newcomer", "password": "a-long-enough-password-2026"}
    response = client.post("/signup/", body)
    assert (response.status_code, response["Location"]) == (302, "/projects/")
    user = User.objects.get(username="newcomer")
    assert not user.is_staff
    assert client.get("/projects/").status_code == 200


def test_sign_up_errors_are_shown_next_to_their_field(user: User) -> None:
    response = Client().post("/signup/", {"email": "not-an-email", "username": user.username, "password": "short"})
    assert response.status_code == 400
    body = response.content.decode()
    for field in ("email", "username"):
        assert re.search(rf'<p class="error" id="error_{field}">[^<]+</p>', body), field
    assert 'value="not-an-email"' in body  # what was typed stays, except the password
    assert 'value="short"' not in body
    assert User.objects.count() == 1


def test_a_weak_password_is_refused_next_to_its_field() -> None:
    body = {"email": "new@example.com", "username": "newcomer", "password": "password"}
    response = Client().post("/signup/", body)
    assert response.status_code == 400
    assert re.search(r'<p class="error" id="error_password">[^<]*common[^<]*</p>', response.content.decode())
    assert not User.objects.filter(username="newcomer").exists()


def test_log_out_is_a_post(user: User) -> None:
    client = signed_in(user)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/projects/").status_code == 302


def test_logout_needs_the_csrf_token(user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/logout/").status_code == 403


def test_projects_show_role_and_counts(team: Team, django_assert_max_num_queries) -> None:
    team.create_task()
    client = signed_in(team.users["viewer"])
    with django_assert_max_num_queries(4):  # session, user, projects with counts
        response = client.get("/projects/")
    body = response.content.decode()
    assert f'href="/projects/{team.project.pk}/"' in body
    assert "viewer · 1 task · 4 members" in body


def test_a_project_is_created_from_the_page(user: User) -> None:
    client = signed_in(user)
    response = client.post("/projects/", {"name": "Website", "key": "web"})
    project = Project.objects.get(key="WEB")
    assert (response.status_code, response["Location"]) == (302, f"/projects/{project.pk}/")
    assert Membership.objects.get(project=project).user == user


def test_a_bad_project_is_refused_on_the_form_and_nothing_is_written(team: Team) -> None:
    client = signed_in(team.users["member"])
    response = client.post("/projects/", {"name": "", "key": "TTD"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="error_name"' in body
    assert Project.objects.count() == 1
    response = client.post("/projects/", {"name": "Again", "key": "TTD"})
    assert "A project with this key already exists." in response.content.decode()
    assert Project.objects.count() == 1


def test_the_board_page_is_for_members_only(team: Team) -> None:
    board = f"/projects/{team.project.pk}/"
    assert signed_in(team.users["outsider"]).get(board).status_code == 404
    assert signed_in(team.users["member"]).get("/projects/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.parametrize(("role", "can_edit"), [("viewer", "false"), ("member", "true"), ("owner", "true")])
def test_the_board_page_says_whether_the_user_may_edit(team: Team, role: str, can_edit: str) -> None:
    response = signed_in(team.users[role]).get(f"/projects/{team.project.pk}/")
    assert response.status_code == 200
    assert f'data-can-edit="{can_edit}"' in response.content.decode()
    assert "/static/web/board.js" in response.content.decode()


@pytest.mark.parametrize("tab", ["", "sprints/", "time/", "settings/"])
def test_project_pages_are_404_for_outsiders(team: Team, tab: str) -> None:
    page = f"/projects/{team.project.pk}/{tab}"
    assert signed_in(team.users["outsider"]).get(page).status_code == 404
    assert Client().get(page).status_code == 302  # to the login


@pytest.mark.parametrize(
    ("role", "settings_status"), [("viewer", 403), ("member", 403), ("admin", 200), ("owner", 200)]
)
def test_every_member_reads_sprints_and_time_only_admins_the_settings(
    team: Team, role: str, settings_status: int
) -> None:
    client = signed_in(team.users[role])
    for tab in ("sprints/", "time/"):
        response = client.get(f"/projects/{team.project.pk}/{tab}")
        assert response.status_code == 200
        assert "script-src 'self'" in response["Content-Security-Policy"]
    response = client.get(f"/projects/{team.project.pk}/settings/")
    assert response.status_code == settings_status
    body = response.content.decode()
    assert ("Only admins change the settings" in body) == (settings_status == 403)
    assert ('href="/projects/' + str(team.project.pk) + '/settings/"' in body) == (settings_status == 200)


def test_only_the_owner_is_offered_the_admin_role(team: Team) -> None:
    owner = signed_in(team.users["owner"]).get(f"/projects/{team.project.pk}/settings/").content.decode()
    admin = signed_in(team.users["admin"]).get(f"/projects/{team.project.pk}/settings/").content.decode()
    assert '<option value="admin">' in owner
    assert '<option value="admin">' not in admin  # (the API refuses it anyway)


def test_user_text_is_escaped_in_every_page() -> None:
    owner = UserFactory.create(username="escaper")
    client = signed_in(owner)
    client.post("/projects/", {"name": XSS[:200], "key": "XSS"})
    project = Project.objects.get(key="XSS")
    pages = ["/projects/"] + [f"/projects/{project.pk}/{tab}" for tab in ("", "sprints/", "time/", "settings/")]
    for page in pages:
        body = client.get(page).content.decode()
        assert "<script>alert(1)" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=&quot;alert(2)" in body
    response = Client().post("/signup/", {"email": XSS, "username": XSS, "password": "x"})
    assert "<script>alert(1)" not in response.content.decode()


def test_the_session_cookie_is_httponly_secure_and_lax(user: User, settings) -> None:
    settings.SESSION_COOKIE_SECURE = True  # as in production (DEBUG off)
    response = Client().post("/login/", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert (bool(cookie["httponly"]), bool(cookie["secure"]), cookie["samesite"]) == (True, True, "Lax")
