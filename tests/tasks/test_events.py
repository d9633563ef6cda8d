"""The event schema (tasks.events): every verb, performed through the API, and its frame.

The keys below are the public schema that sockets, the activity log and (soon) webhooks
carry; they are written out here on purpose, not read from the code under test.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework import serializers as drf
from rest_framework.renderers import JSONRenderer

from tasks import selectors
from tasks.events import SCHEMA_VERSION, Target, Verb, emit
from tasks.models import Attachment, Column, Comment, Label, Membership, Project, Sprint, TimeEntry
from tasks.serializers.attachments import AttachmentSerializer
from tasks.serializers.projects import ColumnSerializer, LabelSerializer, MemberSerializer, ProjectSerializer
from tasks.serializers.sprints import SprintSerializer
from tasks.serializers.tasks import CommentSerializer, TaskSerializer
from tasks.serializers.time import TimeEntrySerializer
from tests.factories import UserFactory
from tests.helpers.teams import Team
from timetodo import streams

pytestmark = pytest.mark.django_db

# docs/api.md, "Activity event": every verb there is.
API_VERBS = {
    "project.updated",
    "member.added",
    "member.updated",
    "member.removed",
    "column.created",
    "column.updated",
    "column.deleted",
    "label.created",
    "label.updated",
    "label.deleted",
    "task.created",
    "task.updated",
    "task.moved",
    "task.deleted",
    "comment.created",
    "comment.updated",
    "comment.deleted",
    "sprint.created",
    "sprint.updated",
    "sprint.started",
    "sprint.completed",
    "sprint.deleted",
    "time_entry.created",
    "time_entry.updated",
    "time_entry.deleted",
    "attachment.created",
    "attachment.deleted",
}

FRAME_KEYS = {
    "type",
    "schema_version",
    "project",
    "seq",
    "verb",
    "actor",
    "target_type",
    "target_id",
    "changes",
    "at",
}
USER_SUMMARY = {"id", "username", "full_name"}
SNAPSHOT_KEYS = {
    "project": {"id", "name", "key", "description", "status", "owner", "last_seq", "created_at", "updated_at"},
    "member": {"user", "user_detail", "role", "joined_at"},
    "column": {"id", "name", "position", "wip_limit", "is_done"},
    "label": {"id", "name", "color"},
    "task": {
        "id",
        "project",
        "number",
        "key",
        "title",
        "description",
        "column",
        "position",
        "priority",
        "assignee",
        "assignee_detail",
        "creator",
        "labels",
        "story_points",
        "estimate_minutes",
        "spent_minutes",
        "attachment_count",
        "due_date",
        "sprint",
        "parent",
        "is_done",
        "completed_at",
        "created_at",
        "updated_at",
        "version",
    },
    "comment": {"id", "task", "author", "author_detail", "body", "edited", "created_at", "updated_at"},
    "sprint": {
        "id",
        "project",
        "name",
        "goal",
        "start_date",
        "end_date",
        "status",
        "committed_points",
        "completed_points",
        "created_at",
    },
    "time_entry": {"id", "task", "user", "started_at", "ended_at", "minutes", "note", "created_at", "updated_at"},
    "attachment": {
        "id",
        "task",
        "uploader",
        "filename",
        "content_type",
        "size",
        "sha256",
        "created_at",
        "download_url",
        "thumbnail_url",
    },
}
NESTED_SUMMARIES = {"member": ["user_detail"], "task": ["assignee_detail"], "comment": ["author_detail"]}


@dataclass
class World:
    """A project with one of everything, made before the action under test."""

    team: Team
    task: dict[str, Any]
    column: dict[str, Any]
    label: dict[str, Any]
    sprint: dict[str, Any]
    comment: dict[str, Any]
    entry: dict[str, Any]
    newcomer: Any
    attachment: dict[str, Any] | None = None

    def ok(self, role: str, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        response = getattr(self.team.clients[role], method)(url, body or {}, format="json")
        assert response.status_code < 400, response.content
        return response.json() if response.content else None


@pytest.fixture
def world(team: Team) -> World:
    admin = team.clients["admin"]

    def made(method: str, url: str, body: dict[str, Any], client: Any = admin) -> dict[str, Any]:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    label = made("post", team.url("labels/"), {"name": "bug", "color": "#ff0000"})
    column = made("post", team.url("columns/"), {"name": "QA"})
    sprint = made("post", team.url("sprints/"), {"name": "S1", "start_date": "2026-11-30", "end_date": "2026-12-11"})
    task = team.create_task(title="target", labels=[label["id"]], sprint=sprint["id"], story_points=3)
    comment = made("post", f"/api/v1/tasks/{task['id']}/comments/", {"body": "hi"}, team.clients["member"])
    started = (timezone.now() - datetime.timedelta(hours=2)).isoformat()
    entry = made(
        "post",
        "/api/v1/time-entries/",
        {"task": task["id"], "started_at": started, "minutes": 30},
        team.clients["member"],
    )
    newcomer = UserFactory.create(username="newcomer")
    return World(team, task, column, label, sprint, comment, entry, newcomer)


def started_sprint(w: World) -> None:
    w.ok("admin", "post", f"/api/v1/sprints/{w.sprint['id']}/start/")


# Each verb's action, performed as a user would (the world's setup is not recorded).
def attach(world: World) -> dict[str, Any]:
    file = SimpleUploadedFile("notes.txt", b"meeting notes", content_type="text/plain")
    url = f"/api/v1/tasks/{world.task['id']}/attachments/"
    response = world.team.clients["member"].post(url, {"file": file}, format="multipart")
    assert response.status_code == 201, response.content
    return dict(response.json())


ACTIONS: dict[Verb, Callable[[World], Any]] = {
    Verb.PROJECT_UPDATED: lambda w: w.ok("admin", "patch", w.team.url(), {"name": "Renamed"}),
    Verb.MEMBER_ADDED: lambda w: w.ok("admin", "post", w.team.url("members/"), {"user": str(w.newcomer.pk)}),
    Verb.MEMBER_UPDATED: lambda w: w.ok(
        "admin", "patch", w.team.url(f"members/{w.team.users['member'].pk}/"), {"role": "viewer"}
    ),
    Verb.MEMBER_REMOVED: lambda w: w.ok("admin", "delete", w.team.url(f"members/{w.team.users['viewer'].pk}/")),
    Verb.COLUMN_CREATED: lambda w: w.ok("admin", "post", w.team.url("columns/"), {"name": "Blocked"}),
    Verb.COLUMN_UPDATED: lambda w: w.ok("admin", "patch", w.team.url(f"columns/{w.column['id']}/"), {"name": "QA!"}),
    Verb.COLUMN_DELETED: lambda w: w.ok("admin", "delete", w.team.url(f"columns/{w.column['id']}/")),
    Verb.LABEL_CREATED: lambda w: w.ok("member", "post", w.team.url("labels/"), {"name": "ui", "color": "#00ff00"}),
    Verb.LABEL_UPDATED: lambda w: w.ok("member", "patch", w.team.url(f"labels/{w.label['id']}/"), {"color": "#0000ff"}),
    Verb.LABEL_DELETED: lambda w: w.ok("member", "delete", w.team.url(f"labels/{w.label['id']}/")),
    Verb.TASK_CREATED: lambda w: w.team.create_task(title="new"),
    Verb.TASK_UPDATED: lambda w: w.ok("member", "patch", f"/api/v1/tasks/{w.task['id']}/", {"title": "renamed"}),
    Verb.TASK_MOVED: lambda w: w.ok(
        "member", "post", f"/api/v1/tasks/{w.task['id']}/move/", {"column": w.column["id"]}
    ),
    Verb.TASK_DELETED: lambda w: w.ok("member", "delete", f"/api/v1/tasks/{w.task['id']}/"),
    Verb.COMMENT_CREATED: lambda w: w.ok("viewer", "post", f"/api/v1/tasks/{w.task['id']}/comments/", {"body": "+1"}),
    Verb.COMMENT_UPDATED: lambda w: w.ok("member", "patch", f"/api/v1/comments/{w.comment['id']}/", {"body": "hi!"}),
    Verb.COMMENT_DELETED: lambda w: w.ok("member", "delete", f"/api/v1/comments/{w.comment['id']}/"),
    Verb.SPRINT_CREATED: lambda w: w.ok("admin", "post", w.team.url("sprints/"), {"name": "S2"}),
    Verb.SPRINT_UPDATED: lambda w: w.ok("admin", "patch", f"/api/v1/sprints/{w.sprint['id']}/", {"goal": "ship"}),
    Verb.SPRINT_STARTED: started_sprint,
    Verb.SPRINT_COMPLETED: lambda w: w.ok("admin", "post", f"/api/v1/sprints/{w.sprint['id']}/complete/"),
    Verb.SPRINT_DELETED: lambda w: w.ok("admin", "delete", f"/api/v1/sprints/{w.sprint['id']}/"),
    Verb.TIME_ENTRY_CREATED: lambda w: w.ok("member", "post", f"/api/v1/tasks/{w.task['id']}/timer/start/"),
    Verb.TIME_ENTRY_UPDATED: lambda w: w.ok("member", "patch", f"/api/v1/time-entries/{w.entry['id']}/", {"note": "n"}),
    Verb.TIME_ENTRY_DELETED: lambda w: w.ok("member", "delete", f"/api/v1/time-entries/{w.entry['id']}/"),
    Verb.ATTACHMENT_CREATED: lambda w: attach(w),
    Verb.ATTACHMENT_DELETED: lambda w: w.ok("member", "delete", f"/api/v1/attachments/{(w.attachment or {})['id']}/"),
}
# What must be set up beyond the world before the action (not recorded either).
PREPARE: dict[Verb, Callable[[World], Any]] = {
    Verb.SPRINT_COMPLETED: started_sprint,
    Verb.ATTACHMENT_DELETED: lambda w: setattr(w, "attachment", attach(w)),
}
CHANGED = {
    Verb.PROJECT_UPDATED: {"name"},
    Verb.MEMBER_ADDED: {"role"},
    Verb.MEMBER_UPDATED: {"role"},
    Verb.MEMBER_REMOVED: {"role"},
    Verb.COLUMN_UPDATED: {"name"},
    Verb.LABEL_UPDATED: {"color"},
    Verb.LABEL_DELETED: {"name"},
    Verb.TASK_UPDATED: {"title"},
    Verb.TASK_MOVED: {"column", "position"},
    Verb.TASK_DELETED: {"title"},
    Verb.COMMENT_UPDATED: {"body"},
    Verb.SPRINT_UPDATED: {"goal"},
    Verb.SPRINT_STARTED: {"status", "committed_points"},
    Verb.SPRINT_COMPLETED: {"status", "completed_points"},
    Verb.TIME_ENTRY_UPDATED: {"note"},
    Verb.ATTACHMENT_DELETED: {"filename", "task"},
}
REMOVALS = {
    Verb.MEMBER_REMOVED,
    Verb.COLUMN_DELETED,
    Verb.LABEL_DELETED,
    Verb.TASK_DELETED,
    Verb.COMMENT_DELETED,
    Verb.SPRINT_DELETED,
    Verb.TIME_ENTRY_DELETED,
    Verb.ATTACHMENT_DELETED,
}


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Frames as they leave for the channel layer (after commit)."""
    frames: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(streams, "publish_unsafe", lambda stream, frame: frames.append((stream, frame)))
    return frames


def test_the_verbs_are_exactly_those_of_the_contract() -> None:
    assert {verb.value for verb in Verb} == API_VERBS
    assert set(ACTIONS) == set(Verb)
    assert {verb.target for verb in Verb} == set(Target)


@pytest.mark.parametrize("verb", list(Verb), ids=[verb.value for verb in Verb])
def test_each_verb_through_the_api_publishes_its_frame(
    world: World, verb: Verb, published, django_capture_on_commit_callbacks
) -> None:
    PREPARE.get(verb, lambda w: None)(world)
    with django_capture_on_commit_callbacks(execute=True):
        ACTIONS[verb](world)
    frames = [frame for stream, frame in published if frame["verb"] == verb.value]
    assert frames, f"no {verb} frame among {[frame['verb'] for _, frame in published]}"
    frame = frames[-1]
    project = world.team.project
    assert all(stream == streams.project_stream(project.pk) for stream, _ in published)
    assert set(frame) == FRAME_KEYS | ({"data"} if verb not in REMOVALS else set())
    assert frame["type"] == "event"
    assert frame["schema_version"] == SCHEMA_VERSION
    assert frame["project"] == str(project.pk)
    assert frame["target_type"] == verb.value.split(".")[0]
    assert set(frame["changes"]) == CHANGED.get(verb, set())
    assert all(isinstance(pair, list) and len(pair) == 2 for pair in frame["changes"].values())
    if verb in REMOVALS:
        return
    data = frame["data"]
    assert set(data) == SNAPSHOT_KEYS[frame["target_type"]]
    for nested in NESTED_SUMMARIES.get(frame["target_type"], []):
        assert data[nested] is None or set(data[nested]) == USER_SUMMARY, nested
    assert json.loads(json.dumps(data)) == data  # JSON primitives only (the Redis layer msgpacks it)
    # The log keeps the same event for replay and history.
    logged = world.ok("viewer" if verb != Verb.MEMBER_REMOVED else "owner", "get", world.team.url("activity/"))
    row = next(event for event in logged["results"] if event["seq"] == frame["seq"])
    assert (row["verb"], row["data"], row["changes"]) == (frame["verb"], data, frame["changes"])


def test_a_task_event_shows_the_task_as_the_api_does(world: World, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        answer = world.ok("member", "patch", f"/api/v1/tasks/{world.task['id']}/", {"title": "renamed"})
    (frame,) = [frame for _, frame in published if frame["verb"] == "task.updated"]
    assert frame["data"] == answer == world.ok("viewer", "get", f"/api/v1/tasks/{world.task['id']}/")


def test_a_removal_carries_no_snapshot_and_a_change_needs_one(team: Team) -> None:
    project = Project.objects.get(pk=team.project.pk)
    with pytest.raises(ValueError, match="carries no"):
        emit(project=project, actor=None, verb=Verb.TASK_DELETED, target_id="x", data={"id": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a"):
        emit(project=project, actor=None, verb=Verb.TASK_UPDATED, target_id="x")


def rendered(data: Any) -> Any:
    return json.loads(JSONRenderer().render(data))


def test_each_api_representation_is_its_snapshot_field_for_field(world: World) -> None:
    """The output serializers render the snapshots; the fields they declare (which the
    OpenAPI schema shows) must render the same through DRF's own machinery."""
    project = Project.objects.get(pk=world.team.project.pk)
    project.my_role = "viewer"  # type: ignore[attr-defined]  # (as the list selector annotates it)
    cases: list[tuple[str, type[drf.ModelSerializer[Any]], Any]] = [
        ("project", ProjectSerializer, project),
        ("member", MemberSerializer, Membership.objects.select_related("user").filter(project=project).first()),
        ("column", ColumnSerializer, Column.objects.get(pk=world.column["id"])),
        ("label", LabelSerializer, Label.objects.get(pk=world.label["id"])),
        ("task", TaskSerializer, selectors.prepare_tasks(selectors.tasks_shown().filter(pk=world.task["id"]))[0]),
        ("comment", CommentSerializer, Comment.objects.select_related("author").get(pk=world.comment["id"])),
        ("sprint", SprintSerializer, Sprint.objects.get(pk=world.sprint["id"])),
        ("time_entry", TimeEntrySerializer, TimeEntry.objects.get(pk=world.entry["id"])),
        ("attachment", AttachmentSerializer, Attachment.objects.get(pk=attach(world)["id"])),
    ]
    for target, serializer_class, instance in cases:
        fast = rendered(serializer_class(instance).data)
        generic = rendered(drf.ModelSerializer.to_representation(serializer_class(), instance))
        assert fast == generic, target
        assert set(fast) - {"my_role"} == SNAPSHOT_KEYS[target], target
