"""The authorization matrix: every route of the URLconf, every method it answers, every role.

Routes and methods are read from the URLconf (and each view's handlers), not listed by
hand: a route or method without a row in the table (tests/helpers/matrix.py) fails
`test_every_route_has_a_row`. Admin-site pages are for staff, which no project role is:
one rule covers every route under admin/.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tasks.models import Task
from tests.helpers.matrix import (
    ADMIN_OPEN,
    ADMIN_PAGE,
    ADMIN_REDIRECTS,
    API,
    HANDLERS,
    MATRIX,
    ROLES,
    Row,
    hour_ago,
    task_of,
)
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db

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
    response = getattr(client, method.lower())(path, body, format=row.format)
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


# Server-owned fields (docs/api.md "General"): sending them changes nothing.

BOGUS_ID = "00000000-0000-0000-0000-000000000001"
BOGUS_TIME = "2001-01-01T00:00:00Z"


@dataclass(frozen=True)
class OwnedCase:
    case: str
    build: Callable[[Team], tuple[str, str, dict[str, Any]]]  # (method, path, body)
    # The fields the answer must show with the server's own values, and those that must
    # not show the bogus value sent (where the server's value is not known in advance).
    shows: Callable[[Team], dict[str, Any]] = lambda t: {}
    hides: tuple[str, ...] = ()
    check: Callable[[Team, dict[str, Any]], None] | None = None
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
    assert (task.number, body["number"], body["key"]) == (1, 1, "TTD-1")
    assert str(task.creator_id) == body["creator"] == str(team.users["member"].pk)
    assert (task.spent_minutes, task.is_done, task.completed_at) == (0, False, None)
    assert task.version == body["version"]
    assert task.position == body["position"] != 999


OWNED_CASES = [
    OwnedCase(
        "create project",
        lambda t: (
            "post",
            API + "projects/",
            stamped({"name": "Mine", "key": "MINE"}, owner=outsider_id(t), my_role="viewer", last_seq=99),
        ),
        shows=lambda t: {"owner": str(t.users["member"].pk), "my_role": "owner", "last_seq": 0},
        hides=("id", "created_at"),
    ),
    OwnedCase(
        "edit project",
        lambda t: ("patch", t.url(), stamped({"name": "Renamed"}, owner=outsider_id(t), last_seq=99, key="HACK")),
        shows=lambda t: {
            "id": str(t.project.pk),
            "owner": str(t.users["owner"].pk),
            "last_seq": 1,
            "name": "Renamed",
        },
        hides=("created_at",),
        role="owner",
    ),
    OwnedCase(
        "create task",
        lambda t: (
            "post",
            API + "tasks/",
            stamped({"project": str(t.project.pk), "title": "x"}, version=7, **task_owned(t)),
        ),
        shows=lambda t: {"version": 1, "is_done": False, "completed_at": None, "spent_minutes": 0},
        hides=("id", "created_at"),
        check=check_task,
    ),
    OwnedCase(
        "edit task",
        lambda t: (
            "patch",
            f"{API}tasks/{task_of(t)}/",
            stamped({"title": "renamed"}, **task_owned(t)),  # (a body `version` is a precondition)
        ),
        shows=lambda t: {"title": "renamed", "version": 2, "is_done": False, "spent_minutes": 0},
        hides=("id", "created_at"),
        check=check_task,
    ),
    OwnedCase(
        "comment",
        lambda t: (
            "post",
            f"{API}tasks/{task_of(t)}/comments/",
            stamped({"body": "hi"}, author=outsider_id(t), task=BOGUS_ID, edited=True),
        ),
        shows=lambda t: {"author": str(t.users["member"].pk), "edited": False},
        hides=("id", "task", "created_at"),
    ),
    OwnedCase(
        "create sprint",
        lambda t: (
            "post",
            t.url("sprints/"),
            stamped({"name": "S"}, status="completed", committed_points=50, completed_points=50, project=BOGUS_ID),
        ),
        shows=lambda t: {
            "status": "planned",
            "project": str(t.project.pk),
            "committed_points": None,
            "completed_points": None,
        },
        hides=("id", "created_at"),
        role="admin",
    ),
    OwnedCase(
        "log time",
        lambda t: (
            "post",
            API + "time-entries/",
            stamped({"task": task_of(t), "started_at": hour_ago(), "minutes": 5}, user=outsider_id(t)),
        ),
        shows=lambda t: {"user": str(t.users["member"].pk), "minutes": 5},
        hides=("id", "created_at"),
    ),
    OwnedCase(
        "edit my profile",
        lambda t: ("patch", API + "auth/me/", stamped({"full_name": "New"}, email="hijack@example.com")),
        shows=lambda t: {"email": t.users["member"].email, "id": str(t.users["member"].pk), "full_name": "New"},
    ),
]


@pytest.mark.parametrize("owned", OWNED_CASES, ids=[case.case for case in OWNED_CASES])
def test_server_owned_fields_change_nothing(team: Team, owned: OwnedCase) -> None:
    method, path, sent = owned.build(team)
    response = getattr(team.clients[owned.role], method)(path, sent, format="json")
    assert response.status_code in (200, 201), response.content
    body = response.json()
    for name, value in owned.shows(team).items():
        assert body[name] == value, f"{name}: {body[name]!r}, the server's value is {value!r}"
    for name in owned.hides:
        assert body[name] != sent[name], f"{name} took the value sent: {sent[name]!r}"
    if owned.check is not None:
        owned.check(team, body)


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


GET_CASES = [
    (pattern, row)
    for (pattern, method), rows in MATRIX.items()
    if method == "GET" and pattern.startswith(API)
    for row in rows
]


@pytest.mark.parametrize(("pattern", "row"), GET_CASES, ids=[f"HEAD {p} ({r.case})" for p, r in GET_CASES])
def test_head_answers_as_get_does(team: Team, pattern: str, row: Row) -> None:
    # Django answers HEAD with the GET handler: the parent must be resolved and checked
    # for it too (a HEAD once skipped both, and every endpoint below a project was a 500).
    path, _ = row.build(team)
    for role in ("outsider", "viewer", "owner"):
        response = client_of(team, role).head(path)
        assert response.status_code == row.expected[role], (role, response.status_code)
        assert response.content == b""
