"""Schema fuzzing: schemathesis against the app's own OpenAPI schema, every operation.

Run with `python3 dev.py test -m fuzz` (CI does, on PostgreSQL); FUZZ_EXAMPLES sets the
examples per operation (100 in CI, more for a long run: `FUZZ_EXAMPLES=1000`). The caller
is a member of one project that has a task, a comment, a label, a sprint and a time entry;
another user's project exists too. Generated path ids are mostly replaced by the ids of
those real objects (the caller's or, now and then, the other user's), so the fuzzing
reaches the code behind the lookups. Every response must be a non-5xx that matches the
schema (status code, content type, body, headers).
"""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from PIL import Image
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import checks

from tasks.models import Label, Membership, Sprint, Task
from tasks.services.attachments import attachment_create, make_thumbnail
from tasks.services.comments import comment_create
from tasks.services.projects import project_create
from tasks.services.tasks import task_create
from tasks.services.time import time_entry_create
from tests.factories import UserFactory

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
# No server errors, and every response as the schema says: status code, content type,
# headers, body. (Whether the server accepts each request the schema allows is a matter of
# business rules the schema cannot state, e.g. "the email of an existing user".)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _one_connection_per_test() -> Iterator[None]:
    """Requests go through the WSGI app itself, whose request signals would close the
    database connection the test's transaction lives on (Django's test client detaches
    the same handler)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def image_attachment(actor: Any, task: Task) -> Any:
    """An image on the task, with its thumbnail (as the worker makes it)."""
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="PNG")
    attachment = attachment_create(actor=actor, task=task, upload=SimpleUploadedFile("pic.png", out.getvalue()))
    make_thumbnail.call(attachment_id=str(attachment.pk))
    return attachment.pk


@pytest.fixture
def world(db) -> dict[str, Any]:
    """The caller's project with one of everything, and a stranger's project."""
    me = UserFactory.create(username="fuzzer")
    stranger = UserFactory.create(username="stranger")
    teammate = UserFactory.create(username="teammate")
    mine = project_create(actor=me, name="Fuzzed", key="FUZ")
    Membership.objects.create(project=mine, user=teammate, role="member")
    theirs = project_create(actor=stranger, name="Not yours", key="NOPE")

    def objects(project: Any, actor: Any) -> dict[str, str]:
        task: Task = task_create(actor=actor, project_id=project.pk, values={"title": "fuzz me"}).task
        started = timezone.now() - datetime.timedelta(hours=2)
        return {
            "project_id": str(project.pk),
            "task_id": str(task.pk),
            "column_id": str(project.columns.first().pk),
            "label_id": str(Label.objects.create(project=project, name="bug", color="#ff0000").pk),
            "sprint_id": str(
                Sprint.objects.create(
                    project=project, name="S", start_date=datetime.date(2026, 3, 2), end_date=datetime.date(2026, 3, 6)
                ).pk
            ),
            "comment_id": str(comment_create(actor=actor, task=task, body="hi").pk),
            "entry_id": str(time_entry_create(actor=actor, task=task, started_at=started, minutes=10).pk),
            "user_id": str(teammate.pk if project == mine else actor.pk),
            "attachment_id": str(image_attachment(actor, task)),
        }

    return {
        "token": str(RefreshToken.for_user(me).access_token),
        "mine": objects(mine, me),
        "theirs": objects(theirs, stranger),
    }


def with_real_ids(case: Any, world: dict[str, Any]) -> None:
    """Three times in four the caller's objects, then the stranger's, then the generated ids."""
    if not case.path_parameters:
        return
    pick = hash(tuple(sorted(map(str, case.path_parameters.values())))) % 8
    source = world["mine"] if pick < 6 else world["theirs"] if pick == 6 else None
    if source is not None:
        for name in case.path_parameters:
            if name in source:
                case.path_parameters[name] = source[name]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
def test_every_operation_answers_within_its_schema(case: Any, world: dict[str, Any]) -> None:
    with_real_ids(case, world)
    case.call_and_validate(headers={"Authorization": f"Bearer {world['token']}"}, checks=CHECKS)
