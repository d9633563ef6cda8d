"""The authorization matrix: every route of the URLconf, every method it answers, every role.

Routes and methods are read from the URLconf (and each view's handlers), not listed by
hand: a route or method without a row in MATRIX fails `test_every_route_has_a_row`. Each
row builds one valid request for its route (so the answer is about who asks, not about
the body) and declares the status for each of: anonymous, outsider (a signed-in user who
is not a member), viewer, member, admin, owner. Admin-site pages are for staff, which no
project role is: one rule covers every route under admin/.
"""

from __future__ import annotations

import datetime
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from tasks.models import Comment, Label, Membership, Sprint, Task, TimeEntry
from tasks.services.time import time_entry_create
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.tasks.conftest import Team

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "outsider", "viewer", "member", "admin", "owner"]
HANDLERS = ["get", "post", "put", "patch", "delete"]


def expect(
    owner: int, admin: int, member: int, viewer: int, outsider: int = 404, anonymous: int = 401
) -> dict[str, int]:
    return {
        "owner": owner,
        "admin": admin,
        "member": member,
        "viewer": viewer,
        "outsider": outsider,
        "anonymous": anonymous,
    }


def everyone(status: int, anonymous: int | None = None) -> dict[str, int]:
    return {role: status for role in ROLES} | ({} if anonymous is None else {"anonymous": anonymous})


VIEWER_PLUS = expect(200, 200, 200, 200)
MEMBER_PLUS = expect(200, 200, 200, 403)
ADMIN_PLUS = expect(200, 200, 403, 403)


# What a row's request is made of, built against a fresh team for each role.
Build = Callable[[Team], tuple[str, dict[str, Any]]]  # (path, body)


@dataclass(frozen=True)
class Row:
    case: str
    build: Build
    expected: dict[str, int]


def hour_ago() -> str:
    return (timezone.now() - datetime.timedelta(hours=1)).isoformat()


def task_of(team: Team) -> str:
    return str(team.create_task(title="target")["id"])


def label_of(team: Team) -> Label:
    return Label.objects.create(project=team.project, name="bug", color="#ff0000")


def sprint_of(team: Team, status: str = "planned") -> Sprint:
    return Sprint.objects.create(
        project=team.project,
        name="S",
        start_date=datetime.date(2026, 3, 2),
        end_date=datetime.date(2026, 3, 6),
        status=status,
    )


def second_member(team: Team) -> Any:
    """A member no role of the matrix is: the target of member edits and time entries."""
    user = User.objects.filter(username="second-member").first() or UserFactory.create(username="second-member")
    Membership.objects.get_or_create(project=team.project, user=user, defaults={"role": "member"})
    return user


def entry_of(team: Team) -> TimeEntry:
    task = Task.objects.get(pk=task_of(team))
    started = timezone.now() - datetime.timedelta(hours=2)
    return time_entry_create(actor=second_member(team), task=task, started_at=started, minutes=10)


def comment_by(team: Team, role: str) -> Comment:
    task = task_of(team)
    response = team.clients[role].post(f"/api/v1/tasks/{task}/comments/", {"body": "mine"}, format="json")
    return Comment.objects.get(pk=response.json()["id"])


def refresh_of(team: Team, role: str) -> str:
    user = team.users.get(role) or team.users["outsider"]
    return str(RefreshToken.for_user(user))


API = "/api/v1/"
P = API + "projects/<str:project_id>/"  # (keys are route patterns with a leading slash)

# (route pattern, METHOD) -> the rows that exercise it.
MATRIX: dict[tuple[str, str], list[Row]] = {
    # Service endpoints: open to all (no METRICS_TOKEN in tests).
    ("/health", "GET"): [Row("liveness", lambda t: ("/health", {}), everyone(200))],
    ("/health/detailed", "GET"): [Row("readiness", lambda t: ("/health/detailed", {}), everyone(200))],
    ("/metrics", "GET"): [Row("metrics", lambda t: ("/metrics", {}), everyone(200))],
    ("/api/schema/", "GET"): [Row("schema", lambda t: ("/api/schema/", {}), everyone(200))],
    ("/api/docs/", "GET"): [Row("docs", lambda t: ("/api/docs/", {}), everyone(200))],
    # Browsable-API session login (form); logout is POST-only in Django 5.
    ("/api-auth/login/", "GET"): [Row("login form", lambda t: ("/api-auth/login/", {}), everyone(200))],
    ("/api-auth/login/", "POST"): [
        Row("login form, bad credentials", lambda t: ("/api-auth/login/", {}), everyone(200))
    ],
    ("/api-auth/login/", "PUT"): [Row("login form (PUT is POST)", lambda t: ("/api-auth/login/", {}), everyone(200))],
    ("/api-auth/logout/", "POST"): [Row("session logout", lambda t: ("/api-auth/logout/", {}), everyone(200))],
    # Accounts
    (API + "auth/register/", "POST"): [
        Row(
            "register",
            lambda t: (
                API + "auth/register/",
                {"email": "new@example.com", "username": "newcomer", "password": "a-long-passphrase-42"},
            ),
            everyone(201),
        )
    ],
    (API + "auth/login/", "POST"): [
        Row(
            "log in",
            lambda t: (API + "auth/login/", {"username": "viewer-user", "password": DEFAULT_PASSWORD}),
            everyone(200),
        )
    ],
    (API + "auth/refresh/", "POST"): [
        Row("refresh", lambda t: (API + "auth/refresh/", {"refresh": refresh_of(t, "viewer")}), everyone(200))
    ],
    (API + "auth/logout/", "POST"): [
        Row("log out", lambda t: (API + "auth/logout/", {"refresh": refresh_of(t, "viewer")}), everyone(204))
    ],
    (API + "auth/me/", "GET"): [Row("me", lambda t: (API + "auth/me/", {}), everyone(200, anonymous=401))],
    (API + "auth/me/", "PATCH"): [
        Row("edit me", lambda t: (API + "auth/me/", {"full_name": "New Name"}), everyone(200, anonymous=401))
    ],
    (API + "auth/password/", "POST"): [
        Row(
            "change password",
            lambda t: (
                API + "auth/password/",
                {"old_password": DEFAULT_PASSWORD, "new_password": "another-long-pass-9"},
            ),
            everyone(204, anonymous=401),
        )
    ],
    # Projects
    (API + "projects/", "GET"): [Row("my projects", lambda t: (API + "projects/", {}), everyone(200, anonymous=401))],
    (API + "projects/", "POST"): [
        Row("new project", lambda t: (API + "projects/", {"name": "Mine", "key": "MINE"}), everyone(201, anonymous=401))
    ],
    (P, "GET"): [Row("read project", lambda t: (t.url(), {}), VIEWER_PLUS)],
    (P, "PATCH"): [Row("edit project", lambda t: (t.url(), {"name": "New"}), ADMIN_PLUS)],
    (P, "DELETE"): [Row("delete project", lambda t: (t.url(), {}), expect(204, 403, 403, 403))],
    (P + "transfer/", "POST"): [
        Row("transfer", lambda t: (t.url("transfer/"), {"user": str(t.users["admin"].pk)}), expect(200, 403, 403, 403))
    ],
    (P + "members/", "GET"): [Row("list members", lambda t: (t.url("members/"), {}), VIEWER_PLUS)],
    (P + "members/", "POST"): [
        Row(
            "add member",
            lambda t: (t.url("members/"), {"user": str(UserFactory.create().pk), "role": "member"}),
            expect(201, 201, 403, 403),
        ),
        Row(
            "grant admin",
            lambda t: (t.url("members/"), {"user": str(UserFactory.create().pk), "role": "admin"}),
            expect(201, 403, 403, 403),
        ),
    ],
    (P + "members/<str:user_id>/", "PATCH"): [
        Row(
            "change someone's role",
            lambda t: (t.url(f"members/{second_member(t).pk}/"), {"role": "viewer"}),
            ADMIN_PLUS,
        )
    ],
    (P + "members/<str:user_id>/", "DELETE"): [
        Row("remove someone", lambda t: (t.url(f"members/{second_member(t).pk}/"), {}), expect(204, 204, 403, 403)),
        Row(
            "remove the viewer",  # the viewer removing themself is leaving, which anyone may do
            lambda t: (t.url(f"members/{t.users['viewer'].pk}/"), {}),
            expect(204, 204, 403, 204),
        ),
    ],
    (P + "columns/", "GET"): [Row("list columns", lambda t: (t.url("columns/"), {}), VIEWER_PLUS)],
    (P + "columns/", "POST"): [
        Row("add column", lambda t: (t.url("columns/"), {"name": "QA"}), expect(201, 201, 403, 403))
    ],
    (P + "columns/<str:column_id>/", "PATCH"): [
        Row("rename column", lambda t: (t.url(f"columns/{t.columns[0].pk}/"), {"name": "Backlog"}), ADMIN_PLUS)
    ],
    (P + "columns/<str:column_id>/", "DELETE"): [
        Row("delete column", lambda t: (t.url(f"columns/{t.columns[1].pk}/"), {}), expect(204, 204, 403, 403))
    ],
    (P + "labels/", "GET"): [Row("list labels", lambda t: (t.url("labels/"), {}), VIEWER_PLUS)],
    (P + "labels/", "POST"): [
        Row("add label", lambda t: (t.url("labels/"), {"name": "bug", "color": "#ff0000"}), expect(201, 201, 201, 403))
    ],
    (P + "labels/<str:label_id>/", "PATCH"): [
        Row("edit label", lambda t: (t.url(f"labels/{label_of(t).pk}/"), {"color": "#00ff00"}), MEMBER_PLUS)
    ],
    (P + "labels/<str:label_id>/", "DELETE"): [
        Row("delete label", lambda t: (t.url(f"labels/{label_of(t).pk}/"), {}), expect(204, 204, 204, 403))
    ],
    (P + "board/", "GET"): [Row("board", lambda t: (t.url("board/"), {}), VIEWER_PLUS)],
    (P + "activity/", "GET"): [Row("activity", lambda t: (t.url("activity/"), {}), VIEWER_PLUS)],
    # Sprints
    (P + "sprints/", "GET"): [Row("list sprints", lambda t: (t.url("sprints/"), {}), VIEWER_PLUS)],
    (P + "sprints/", "POST"): [
        Row("create sprint", lambda t: (t.url("sprints/"), {"name": "S"}), expect(201, 201, 403, 403))
    ],
    (P + "velocity/", "GET"): [Row("velocity", lambda t: (t.url("velocity/"), {}), VIEWER_PLUS)],
    (API + "sprints/<str:sprint_id>/", "GET"): [
        Row("read sprint", lambda t: (f"{API}sprints/{sprint_of(t).pk}/", {}), VIEWER_PLUS)
    ],
    (API + "sprints/<str:sprint_id>/", "PATCH"): [
        Row("edit sprint", lambda t: (f"{API}sprints/{sprint_of(t).pk}/", {"name": "T"}), ADMIN_PLUS)
    ],
    (API + "sprints/<str:sprint_id>/", "DELETE"): [
        Row("delete sprint", lambda t: (f"{API}sprints/{sprint_of(t).pk}/", {}), expect(204, 204, 403, 403))
    ],
    (API + "sprints/<str:sprint_id>/start/", "POST"): [
        Row("start sprint", lambda t: (f"{API}sprints/{sprint_of(t).pk}/start/", {}), ADMIN_PLUS)
    ],
    (API + "sprints/<str:sprint_id>/complete/", "POST"): [
        Row("complete sprint", lambda t: (f"{API}sprints/{sprint_of(t, 'active').pk}/complete/", {}), ADMIN_PLUS)
    ],
    (API + "sprints/<str:sprint_id>/burndown/", "GET"): [
        Row("burndown", lambda t: (f"{API}sprints/{sprint_of(t).pk}/burndown/", {}), VIEWER_PLUS)
    ],
    # Time
    (P + "time-report/", "GET"): [Row("time report", lambda t: (t.url("time-report/"), {}), VIEWER_PLUS)],
    (API + "time-entries/", "GET"): [
        Row("list time entries", lambda t: (API + "time-entries/", {}), everyone(200, anonymous=401))
    ],
    (API + "time-entries/", "POST"): [
        Row(
            "log time",
            lambda t: (API + "time-entries/", {"task": task_of(t), "started_at": hour_ago(), "minutes": 5}),
            expect(201, 201, 201, 403),
        )
    ],
    (API + "time-entries/<str:entry_id>/", "PATCH"): [
        Row("edit someone's time", lambda t: (f"{API}time-entries/{entry_of(t).pk}/", {"note": "x"}), ADMIN_PLUS)
    ],
    (API + "time-entries/<str:entry_id>/", "DELETE"): [
        Row(
            "delete someone's time",
            lambda t: (f"{API}time-entries/{entry_of(t).pk}/", {}),
            expect(204, 204, 403, 403),
        )
    ],
    (API + "tasks/<str:task_id>/timer/start/", "POST"): [
        Row("start a timer", lambda t: (f"{API}tasks/{task_of(t)}/timer/start/", {}), expect(201, 201, 201, 403))
    ],
    (API + "timer/stop/", "POST"): [
        Row("stop a timer (none runs)", lambda t: (API + "timer/stop/", {}), everyone(404, anonymous=401))
    ],
    (API + "timer/", "GET"): [Row("current timer", lambda t: (API + "timer/", {}), everyone(204, anonymous=401))],
    # Tasks
    (API + "tasks/", "GET"): [Row("list tasks", lambda t: (API + "tasks/", {}), everyone(200, anonymous=401))],
    (API + "tasks/", "POST"): [
        Row(
            "create task",
            lambda t: (API + "tasks/", {"project": str(t.project.pk), "title": "x"}),
            expect(201, 201, 201, 403),
        )
    ],
    (API + "tasks/bulk/", "POST"): [
        Row(
            "bulk update",
            lambda t: (API + "tasks/bulk/", {"ids": [task_of(t)], "set": {"priority": "high"}}),
            # ids a caller cannot see are refused like unknown ids: 400, never a leak
            expect(200, 200, 200, 403, outsider=400),
        )
    ],
    (API + "tasks/<str:task_id>/", "GET"): [Row("read task", lambda t: (f"{API}tasks/{task_of(t)}/", {}), VIEWER_PLUS)],
    (API + "tasks/<str:task_id>/", "PATCH"): [
        Row("edit task", lambda t: (f"{API}tasks/{task_of(t)}/", {"title": "y"}), MEMBER_PLUS)
    ],
    (API + "tasks/<str:task_id>/", "DELETE"): [
        Row("delete task", lambda t: (f"{API}tasks/{task_of(t)}/", {}), expect(204, 204, 204, 403))
    ],
    (API + "tasks/<str:task_id>/move/", "POST"): [
        Row(
            "move task",
            lambda t: (f"{API}tasks/{task_of(t)}/move/", {"column": str(t.columns[2].pk)}),
            MEMBER_PLUS,
        )
    ],
    (API + "tasks/<str:task_id>/comments/", "GET"): [
        Row("list comments", lambda t: (f"{API}tasks/{task_of(t)}/comments/", {}), VIEWER_PLUS)
    ],
    (API + "tasks/<str:task_id>/comments/", "POST"): [
        Row("comment", lambda t: (f"{API}tasks/{task_of(t)}/comments/", {"body": "hi"}), expect(201, 201, 201, 201))
    ],
    (API + "tasks/<str:task_id>/activity/", "GET"): [
        Row("task history", lambda t: (f"{API}tasks/{task_of(t)}/activity/", {}), VIEWER_PLUS)
    ],
    (API + "comments/<str:comment_id>/", "PATCH"): [
        Row(
            "edit the viewer's comment",  # only the author edits
            lambda t: (f"{API}comments/{comment_by(t, 'viewer').pk}/", {"body": "edited"}),
            expect(403, 403, 403, 200),
        )
    ],
    (API + "comments/<str:comment_id>/", "DELETE"): [
        Row(
            "delete the viewer's comment",  # admin+ delete anyone's; the author their own
            lambda t: (f"{API}comments/{comment_by(t, 'viewer').pk}/", {}),
            expect(204, 204, 403, 204),
        )
    ],
}

# The admin site: staff only. No project role is staff, and API tokens are not admin
# sessions: every page redirects to the login form, which itself is open; logging out
# (nobody is logged in) leads back to the index, which redirects to the login form.
ADMIN_PAGE = everyone(302)
ADMIN_OPEN = {("/admin/login/", "GET"): everyone(200), ("/admin/login/", "POST"): everyone(200)}
ADMIN_REDIRECTS = {"/admin/logout/": "/admin/"}


# Reading the URLconf


def routes(resolvers: list[Any] | None = None, prefix: str = "/") -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(full pattern, callback, default kwargs) for every route, depth first."""
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, pattern)
        elif isinstance(entry, URLPattern):
            yield pattern, entry.callback, entry.default_args


def methods_of(callback: Any) -> list[str]:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is not None:
        return [m.upper() for m in HANDLERS if m in view_class.http_method_names and hasattr(view_class, m)]
    wrapped = callback
    while wrapped is not None:  # function views: require_GET and the like keep the list in a closure
        allowed = inspect.getclosurevars(wrapped).nonlocals.get("request_method_list")
        if allowed:
            return sorted(allowed)
        wrapped = getattr(wrapped, "__wrapped__", None)
    return ["GET", "POST"]  # a plain function view answers anything; the admin's take GET and POST


def route_methods() -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for pattern, callback, _ in routes():
        for method in methods_of(callback):
            if (pattern, method) not in seen:
                seen.append((pattern, method))
    return seen


def is_admin(pattern: str) -> bool:
    return pattern.startswith("/admin/")


def admin_path(pattern: str) -> str:
    """A concrete path for an admin route: any id will do, the login redirect comes first."""
    path = pattern.replace("^", "")
    path = re.sub(r"\(\?P<app_label>[^)]*\)", "tasks", path)
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", path)
    return path.replace("\\", "").replace("$", "")


# The tests


def client_of(team: Team, role: str) -> APIClient:
    return APIClient() if role == "anonymous" else team.clients[role]


def test_every_route_has_a_row() -> None:
    missing = [
        (pattern, method)
        for pattern, method in route_methods()
        if not is_admin(pattern) and (pattern, method) not in MATRIX
    ]
    assert not missing, f"routes without a row in MATRIX: {missing}"
    stale = [key for key in MATRIX if key not in route_methods()]
    assert not stale, f"rows for routes or methods that do not exist: {stale}"


API_CASES = [(pattern, method, row) for (pattern, method), rows in MATRIX.items() for row in rows]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("pattern", "method", "row"), API_CASES, ids=[f"{m} {p} ({r.case})" for p, m, r in API_CASES])
def test_role_matrix(team: Team, role: str, pattern: str, method: str, row: Row) -> None:
    path, body = row.build(team)
    client = client_of(team, role)
    response = getattr(client, method.lower())(path, body, format="json")
    assert response.status_code == row.expected[role], (row.case, role, response.content[:300])


ADMIN_CASES = [(pattern, method) for pattern, method in route_methods() if is_admin(pattern)]


@pytest.mark.parametrize(("pattern", "method"), ADMIN_CASES, ids=[f"{m} {p}" for p, m in ADMIN_CASES])
def test_admin_pages_are_for_staff_only(team: Team, pattern: str, method: str) -> None:
    expected = ADMIN_OPEN.get((pattern, method), ADMIN_PAGE)
    path = admin_path(pattern)
    for role in ROLES:
        cache.clear()  # (the login form's guessing limit is not what this checks)
        client = client_of(team, role)
        response = getattr(client, method.lower())(path, {})
        assert response.status_code == expected[role], (path, method, role)
        if response.status_code == 302:
            target = ADMIN_REDIRECTS.get(pattern, "/admin/login/?next=")
            assert response["Location"].startswith(target), (path, response["Location"])


# Server-owned fields (API.md "General"): sending them changes nothing.

BOGUS_ID = "00000000-0000-0000-0000-000000000001"
BOGUS_TIME = "2001-01-01T00:00:00Z"


@dataclass(frozen=True)
class OwnedCase:
    case: str
    build: Callable[[Team], tuple[str, str, dict[str, Any]]]  # (method, path, body)
    check: Callable[[Team, dict[str, Any]], object]  # fails unless the answer shows the server's values
    role: str = "member"


def stamped(body: dict[str, Any], **owned: Any) -> dict[str, Any]:
    return {**body, "id": BOGUS_ID, "created_at": BOGUS_TIME, "updated_at": BOGUS_TIME, **owned}


def outsider_id(team: Team) -> str:
    return str(team.users["outsider"].pk)


def task_owned(team: Team) -> dict[str, Any]:
    return {
        "number": 42,
        "key": "HACK-42",
        "creator": outsider_id(team),
        "position": 999,
        "spent_minutes": 600,
        "is_done": True,
        "completed_at": BOGUS_TIME,
    }


def check_task(team: Team, body: dict[str, Any]) -> None:
    task = Task.objects.get(pk=body["id"])
    assert body["id"] != BOGUS_ID
    assert body["created_at"] != BOGUS_TIME
    assert (task.number, body["key"], str(task.creator_id)) == (1, "TTD-1", str(team.users["member"].pk))
    assert (task.spent_minutes, task.is_done, task.completed_at, task.version) == (0, False, None, body["version"])
    assert task.position == body["position"] != 999


OWNED_CASES = [
    OwnedCase(
        "create project",
        lambda t: (
            "post",
            API + "projects/",
            stamped({"name": "Mine", "key": "MINE"}, owner=outsider_id(t), my_role="viewer", last_seq=99),
        ),
        lambda t, body: (
            (
                body["id"] != BOGUS_ID
                and body["owner"] == str(t.users["member"].pk)
                and body["my_role"] == "owner"
                and body["last_seq"] == 0
            )
            or pytest.fail(str(body))
        ),
    ),
    OwnedCase(
        "edit project",
        lambda t: ("patch", t.url(), stamped({"name": "Renamed"}, owner=outsider_id(t), last_seq=99, key="HACK")),
        lambda t, body: (
            (
                body["id"] == str(t.project.pk)
                and body["owner"] == str(t.users["owner"].pk)
                and body["last_seq"] == 1
                and body["name"] == "Renamed"
            )
            or pytest.fail(str(body))
        ),
        role="owner",
    ),
    OwnedCase(
        "create task",
        lambda t: (
            "post",
            API + "tasks/",
            stamped({"project": str(t.project.pk), "title": "x"}, version=7, **task_owned(t)),
        ),
        check_task,
    ),
    OwnedCase(
        "edit task",
        lambda t: (
            "patch",
            f"{API}tasks/{task_of(t)}/",
            stamped({"title": "renamed"}, **task_owned(t)),  # (a body `version` is a precondition)
        ),
        check_task,
    ),
    OwnedCase(
        "comment",
        lambda t: (
            "post",
            f"{API}tasks/{task_of(t)}/comments/",
            stamped({"body": "hi"}, author=outsider_id(t), task=BOGUS_ID, edited=True),
        ),
        lambda t, body: (
            (body["author"] == str(t.users["member"].pk) and body["edited"] is False and body["task"] != BOGUS_ID)
            or pytest.fail(str(body))
        ),
    ),
    OwnedCase(
        "create sprint",
        lambda t: (
            "post",
            t.url("sprints/"),
            stamped({"name": "S"}, status="completed", committed_points=50, completed_points=50, project=BOGUS_ID),
        ),
        lambda t, body: (
            (body["status"] == "planned" and body["project"] == str(t.project.pk) and not body["completed_points"])
            or pytest.fail(str(body))
        ),
        role="admin",
    ),
    OwnedCase(
        "log time",
        lambda t: (
            "post",
            API + "time-entries/",
            stamped({"task": task_of(t), "started_at": hour_ago(), "minutes": 5}, user=outsider_id(t)),
        ),
        lambda t, body: body["user"] == str(t.users["member"].pk) or pytest.fail(str(body)),
    ),
    OwnedCase(
        "edit my profile",
        lambda t: ("patch", API + "auth/me/", stamped({"full_name": "New"}, email="hijack@example.com")),
        lambda t, body: (
            (body["email"] == t.users["member"].email and body["id"] == str(t.users["member"].pk))
            or pytest.fail(str(body))
        ),
    ),
]


@pytest.mark.parametrize("owned", OWNED_CASES, ids=[case.case for case in OWNED_CASES])
def test_server_owned_fields_change_nothing(team: Team, owned: OwnedCase) -> None:
    method, path, body = owned.build(team)
    response = getattr(team.clients[owned.role], method)(path, body, format="json")
    assert response.status_code in (200, 201), response.content
    owned.check(team, response.json())


def test_options_answers_on_every_route(team: Team) -> None:
    # Found by schema fuzzing: OPTIONS on an action view without a serializer class
    # (the project transfer) was a 500.
    for pattern, _method, row in API_CASES:
        if pattern.startswith(API):
            with transaction.atomic():  # each row's objects are undone before the next
                path, _ = row.build(team)
                response = team.clients["owner"].options(path)
                transaction.set_rollback(True)
            assert response.status_code == 200, (pattern, response.status_code)
