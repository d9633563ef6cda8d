"""The fast JSON renderer writes the bytes DRF's renderer writes: on the API's own answers
(varied tasks, boards, comments, activity) and on generated data."""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from typing import Any

import pytest
from django.urls import resolve
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from tests.helpers.teams import Team
from timetodo.renderers import FastJSONRenderer

FAST, DRF = FastJSONRenderer(), JSONRenderer()
TEXT = 'Ünïcødé ✓ 🚀 "quotes" \\ back\tslash\nnew line \u2028 \u2029 \x1f </script>'  # (NUL: refused)


def same(data: Any) -> bytes:
    fast, drf = FAST.render(data), DRF.render(data)
    assert fast == drf
    return fast


def test_values_json_has_no_type_for_are_written_as_drf_writes_them() -> None:
    moment = datetime.datetime(2026, 12, 1, 17, 5, 9, 123456, tzinfo=datetime.UTC)
    data = ReturnDict(  # type: ignore[call-overload]
        {
            "utc": moment,
            "offset": moment.astimezone(datetime.timezone(datetime.timedelta(hours=5, minutes=30))),
            "naive": moment.replace(tzinfo=None),
            "date": moment.date(),
            "time": moment.time(),
            "duration": datetime.timedelta(minutes=90),
            "decimal": decimal.Decimal("12.50"),
            "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "lazy": gettext_lazy("Not found."),
            "text": TEXT,
            "nested": ReturnList([{"a": None, "b": True, "c": [1, -2, 3]}], serializer=None),  # type: ignore[call-overload]
            "int": 2**62,
        },
        serializer=None,
    )
    same(data)
    same(None)
    same([])
    same({"huge": 2**70})  # beyond orjson: DRF's own way


def test_indentation_on_request_is_drfs() -> None:
    context = {"indent": 2}
    assert FAST.render({"a": [1]}, "application/json; indent=2", context) == DRF.render(
        {"a": [1]}, "application/json; indent=2", context
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.uuids(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_generated_data_renders_the_same(value: Any) -> None:
    same(value)


@pytest.mark.django_db
def test_the_apis_answers_are_the_same_bytes(team: Team) -> None:
    label = team.clients["member"].post(team.url("labels/"), {"name": TEXT[:50], "color": "#123456"}, format="json")
    parent = team.create_task(title=TEXT[:200], description=TEXT)
    team.create_task(
        title="child",
        parent=parent["id"],
        labels=[label.json()["id"]],
        assignee=str(team.users["member"].pk),
        due_date="2027-02-28",
        story_points=0,
        estimate_minutes=None,
    )
    team.clients["member"].post(f"/api/v1/tasks/{parent['id']}/comments/", {"body": TEXT}, format="json")
    team.clients["member"].post(f"/api/v1/tasks/{parent['id']}/timer/start/")
    client = team.clients["viewer"]
    for url in (
        "/api/v1/tasks/",
        f"/api/v1/tasks/{parent['id']}/",
        team.url("board/"),
        team.url("activity/"),
        team.url("members/"),
        f"/api/v1/tasks/{parent['id']}/comments/",
        "/api/v1/projects/",
        "/api/v1/auth/me/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert type(response.accepted_renderer) is FastJSONRenderer, url
        assert response.content == DRF.render(response.data), url


def number_fields(schema: Any, components: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether a response schema holds a float anywhere (following $refs)."""
    if isinstance(schema, dict):
        if schema.get("type") == "number":
            return True
        ref = schema.get("$ref")
        if ref and ref not in seen:
            name = ref.rsplit("/", 1)[1]
            return number_fields(components.get(name, {}), components, seen | {ref})
        return any(number_fields(value, components, seen) for value in schema.values())
    if isinstance(schema, list):
        return any(number_fields(item, components, seen) for item in schema)
    return False


def test_answers_with_floats_keep_drfs_renderer() -> None:
    """orjson writes exponents its own way (5e-05 as 5e-5): a body that may hold a float is
    rendered by DRF, so its bytes do not change."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    with_floats = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = {code: body for code, body in operation.get("responses", {}).items() if code.startswith("2")}
            if not number_fields(answers, components):
                continue
            concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            view = resolve(concrete).func.cls  # type: ignore[attr-defined]
            with_floats.append(f"{method.upper()} {path}")
            assert FastJSONRenderer not in view.renderer_classes, f"{method.upper()} {path} may hold floats"
    assert with_floats  # (burndown and velocity do)


def test_a_time_now_renders_like_drf() -> None:
    same({"now": timezone.now()})
