"""The authorization table: for every route and method of the URLconf, a valid request
and the status each caller gets (tests/tasks/test_authorization_matrix.py walks it; the
malformed-input corpus breaks its requests one way at a time).

Each row builds one valid request for its route (so the answer is about who asks, not
about the body) against a fresh team, and declares the status for each of: anonymous,
outsider (a signed-in user who is not a member), viewer, member, admin, owner.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from tasks.models import Comment, Label, Membership, Sprint, Task, TimeEntry
from tasks.services.time import time_entry_create
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers.teams import Team

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
    format: str = "json"  # how the body is sent ("multipart": an upload)


def project_page(tab: str) -> Build:
    return lambda t: (f"/projects/{t.project.pk}/{tab}", {})


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


def a_file(name: str = "notes.txt", content: bytes = b"meeting notes") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


def attachment_by(team: Team, role: str, content: bytes = b"meeting notes") -> str:
    task = task_of(team)
    response = team.clients[role].post(
        f"/api/v1/tasks/{task}/attachments/", {"file": a_file(content=content)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def image_with_thumbnail(team: Team) -> str:
    import io

    from PIL import Image

    from tasks.services.attachments import make_thumbnail

    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, format="PNG")
    attachment = attachment_by(team, "member", out.getvalue())
    assert make_thumbnail.call(attachment_id=attachment) == "made"
    return attachment


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
    ("/health", "HEAD"): [Row("liveness probe", lambda t: ("/health", {}), everyone(200))],
    ("/health/detailed", "HEAD"): [Row("readiness probe", lambda t: ("/health/detailed", {}), everyone(200))],
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
    # The web app's pages: a bearer token opens no page (sessions only), so every API client
    # is a visitor there; roles on pages are tested in tests/web/test_pages.py.
    ("/", "GET"): [Row("landing page", lambda t: ("/", {}), everyone(200))],
    ("/", "HEAD"): [Row("landing page", lambda t: ("/", {}), everyone(200))],
    ("/login/", "GET"): [Row("log-in page", lambda t: ("/login/", {}), everyone(200))],
    ("/login/", "POST"): [Row("log-in form, nothing filled", lambda t: ("/login/", {}), everyone(200))],
    ("/signup/", "GET"): [Row("sign-up page", lambda t: ("/signup/", {}), everyone(200))],
    ("/signup/", "POST"): [Row("sign-up form, nothing filled", lambda t: ("/signup/", {}), everyone(400))],
    ("/logout/", "POST"): [Row("log out", lambda t: ("/logout/", {}), everyone(302))],
    ("/projects/", "GET"): [Row("projects page: log in first", lambda t: ("/projects/", {}), everyone(302))],
    ("/projects/", "POST"): [Row("new project form: log in first", lambda t: ("/projects/", {}), everyone(302))],
    **{
        (f"/projects/<uuid:project_id>/{tab}", method): [
            Row(
                f"project page /{tab}: log in first",
                project_page(tab),
                everyone(302),
            )
        ]
        for tab in ("", "sprints/", "time/", "settings/")
        for method in ("GET", "HEAD")
    },
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
    (API + "tasks/<str:task_id>/attachments/", "GET"): [
        Row("list attachments", lambda t: (f"{API}tasks/{task_of(t)}/attachments/", {}), VIEWER_PLUS)
    ],
    (API + "tasks/<str:task_id>/attachments/", "POST"): [
        Row(
            "attach a file",
            lambda t: (f"{API}tasks/{task_of(t)}/attachments/", {"file": a_file()}),
            expect(201, 201, 201, 403),
            format="multipart",
        )
    ],
    (API + "attachments/<str:attachment_id>/", "GET"): [
        Row("see an attachment", lambda t: (f"{API}attachments/{attachment_by(t, 'member')}/", {}), VIEWER_PLUS)
    ],
    (API + "attachments/<str:attachment_id>/", "DELETE"): [
        Row(
            "delete the member's attachment",  # admin+ delete anyone's; the uploader their own
            lambda t: (f"{API}attachments/{attachment_by(t, 'member')}/", {}),
            expect(204, 204, 204, 403),
        )
    ],
    (API + "attachments/<str:attachment_id>/download/", "GET"): [
        Row(
            "download an attachment",
            lambda t: (f"{API}attachments/{attachment_by(t, 'member')}/download/", {}),
            VIEWER_PLUS,
        )
    ],
    (API + "attachments/<str:attachment_id>/thumbnail/", "GET"): [
        Row(
            "an image's thumbnail",
            lambda t: (f"{API}attachments/{image_with_thumbnail(t)}/thumbnail/", {}),
            VIEWER_PLUS,
        )
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
