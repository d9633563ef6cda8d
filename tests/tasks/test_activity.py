"""The activity log: gapless per-project seq, history endpoints, publication after commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from tasks.models import Activity
from tasks.services.tasks import task_create
from tests.helpers.teams import Team
from timetodo.streams import project_stream

pytestmark = pytest.mark.django_db


class Listener:
    """A channel subscribed to a project's group, as a socket consumer will be. It keeps
    one event loop, like a consumer: channels-redis binds receive queues to a loop."""

    def __init__(self, project_id: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.layer = get_channel_layer()
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(project_stream(project_id), self.channel))

    def receive(self, timeout: float = 1.0) -> dict[str, Any] | None:
        try:
            return self.loop.run_until_complete(asyncio.wait_for(self.layer.receive(self.channel), timeout))
        except TimeoutError:
            return None

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def listen(team: Team) -> Iterator[Callable[[], Listener]]:
    listeners: list[Listener] = []

    def make() -> Listener:
        listeners.append(Listener(team.project.pk))
        return listeners[-1]

    yield make
    for listener in listeners:
        listener.close()


def changes_everywhere(team: Team) -> None:
    member, admin = team.clients["member"], team.clients["admin"]
    task = team.create_task()
    member.patch(f"/api/v1/tasks/{task['id']}/", {"title": "x"}, format="json")
    member.post(f"/api/v1/tasks/{task['id']}/move/", {"column": str(team.columns[1].pk)}, format="json")
    member.post(f"/api/v1/tasks/{task['id']}/comments/", {"body": "hi"}, format="json")
    admin.post(team.url("labels/"), {"name": "bug", "color": "#ff0000"}, format="json")
    admin.post(team.url("columns/"), {"name": "QA"}, format="json")
    admin.patch(team.url(), {"description": "d"}, format="json")
    member.delete(f"/api/v1/tasks/{task['id']}/")


def test_every_change_appends_one_event_with_the_next_seq(team: Team) -> None:
    changes_everywhere(team)
    events = list(Activity.objects.filter(project=team.project).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 9))
    assert [e.verb for e in events] == [
        "task.created",
        "task.updated",
        "task.moved",
        "comment.created",
        "label.created",
        "column.created",
        "project.updated",
        "task.deleted",
    ]
    team.project.refresh_from_db()
    assert team.project.last_seq == 8
    board = team.clients["viewer"].get(team.url("board/")).json()
    assert board["last_seq"] == 8
    assert board["project"]["last_seq"] == 8


def test_project_activity_newest_first_and_since(team: Team) -> None:
    changes_everywhere(team)
    client = team.clients["viewer"]
    newest = client.get(team.url("activity/")).json()["results"]
    assert [e["seq"] for e in newest] == list(range(8, 0, -1))
    assert set(newest[0]) == {
        "seq",
        "schema_version",
        "verb",
        "actor",
        "actor_detail",
        "target_type",
        "target_id",
        "changes",
        "data",
        "created_at",
    }
    since = client.get(team.url("activity/"), {"since": 5}).json()["results"]
    assert [e["seq"] for e in since] == [6, 7, 8]
    assert client.get(team.url("activity/"), {"since": "x"}).status_code == 400
    assert client.get(team.url("activity/"), {"since": -1}).status_code == 400


def test_task_activity(team: Team) -> None:
    task = team.create_task()
    member = team.clients["member"]
    member.patch(f"/api/v1/tasks/{task['id']}/", {"priority": "high"}, format="json")
    member.post(f"/api/v1/tasks/{task['id']}/comments/", {"body": "hi"}, format="json")
    team.create_task()  # another task's events stay out
    events = team.clients["viewer"].get(f"/api/v1/tasks/{task['id']}/activity/").json()["results"]
    assert [e["verb"] for e in events] == ["comment.created", "task.updated", "task.created"]
    assert events[1]["changes"] == {"priority": ["none", "high"]}
    assert events[1]["actor"] == str(team.users["member"].pk)
    actor = team.users["member"]
    assert events[1]["actor_detail"] == {"id": str(actor.pk), "username": actor.username, "full_name": actor.full_name}


def test_events_are_published_only_after_commit(team: Team, listen, django_capture_on_commit_callbacks) -> None:
    listener = listen()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task = team.create_task(title="Live")
    assert listener.receive(timeout=0.2) is None  # nothing before the commit
    for callback in callbacks:
        callback()
    message = listener.receive()
    assert message is not None
    assert message["type"] == "stream.event"
    event = message["event"]
    assert event["type"] == "event"
    assert event["project"] == str(team.project.pk)
    assert event["seq"] == 1
    assert event["verb"] == "task.created"
    assert event["actor"] == str(team.users["member"].pk)
    assert event["target_type"] == "task"
    assert event["target_id"] == task["id"]
    assert event["data"]["title"] == "Live"
    assert event["data"]["key"] == "TTD-1"
    assert isinstance(event["at"], str)


def test_nothing_is_published_or_recorded_for_a_rolled_back_change(
    team: Team, listen, django_capture_on_commit_callbacks
) -> None:
    listener = listen()

    def failing_request() -> None:
        with transaction.atomic():
            task_create(actor=team.users["member"], project_id=team.project.pk, values={"title": "doomed"})
            raise RuntimeError("the request failed after the write")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_request()
    assert callbacks == []
    assert listener.receive(timeout=0.2) is None
    assert not Activity.objects.exists()
    team.project.refresh_from_db()
    assert (team.project.last_seq, team.project.task_counter) == (0, 0)


def test_a_publishing_failure_does_not_fail_the_write(team: Team, settings, django_capture_on_commit_callbacks) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1"]}}
    }
    with django_capture_on_commit_callbacks(execute=True):
        task = team.create_task(title="still saved")
    assert task["title"] == "still saved"
    assert Activity.objects.filter(verb="task.created").count() == 1


def test_event_data_is_json_primitives(team: Team) -> None:
    team.create_task(due_date="2026-05-01", story_points=3)
    event = Activity.objects.get(verb="task.created")
    assert event.data is not None
    assert event.data["due_date"] == "2026-05-01"
    assert isinstance(event.data["id"], str)
