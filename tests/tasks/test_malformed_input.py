"""Hostile input against every write endpoint: never a 5xx, and nothing written.

The endpoints and a valid request for each come from the authorization matrix
(tests/helpers/matrix.py), so a new write route is covered as soon as it has its
row there. Each variant breaks one thing of that request — a NUL byte, invalid UTF-8, an
integer beyond 64 bits, an oversized string, a wrong JSON type, deep nesting, a 20 MB
body, a wrong content type, only unknown fields — and the whole database must read the
same afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps

from tests.helpers.matrix import MATRIX, Row
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db

WRITES = ("POST", "PUT", "PATCH", "DELETE")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# The write rows the owner may perform (a refusal for the role would hide the validation).
ENDPOINTS = [
    (pattern, method, rows[0])
    for (pattern, method), rows in MATRIX.items()
    if pattern.startswith("/api/v1/") and method in WRITES and 200 <= rows[0].expected["owner"] < 300
]
BODY_METHODS = ("POST", "PUT", "PATCH")  # a DELETE reads no body: only its path can be broken


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of ours (a test database holds one small team)."""
    tables = {}
    for app in ("accounts", "tasks", "token_blacklist"):
        for model in apps.get_app_config(app).get_models():
            tables[model._meta.label] = list(model._default_manager.order_by("pk").values())
    return tables


def leaves(body: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path to every scalar in a JSON body."""
    if isinstance(body, dict):
        return [leaf for key, value in body.items() for leaf in leaves(value, (*path, key))]
    if isinstance(body, list):
        return [leaf for index, value in enumerate(body) for leaf in leaves(value, (*path, index))]
    return [path]


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[path[0]] = replaced(body[path[0]], path[1:], value)
    return copy


def each_leaf(make: Callable[[Any], Any]) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """Variants that replace one scalar at a time (every scalar, in turn)."""
    return lambda body: [replaced(body, leaf, make(leaf_value(body, leaf))) for leaf in leaves(body) if leaf]


def leaf_value(body: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        body = body[step]
    return body


# name -> (the JSON bodies to send instead of the valid one)
JSON_VARIANTS: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "NUL in a string": each_leaf(lambda v: f"{v}\x00" if isinstance(v, str) else "a\x00b"),
    "integer beyond 2^63": each_leaf(lambda v: 2**63),
    "integer beyond 2^64, negative": each_leaf(lambda v: -(2**64) - 1),
    "string beyond every max length": each_leaf(lambda v: "x" * 100_000),
    "object for a scalar": each_leaf(lambda v: {"$gt": ""}),
    "array for a scalar": each_leaf(lambda v: [v, v]),
    "null for a value": each_leaf(lambda v: None),
    "only unknown fields": lambda body: [{"unknown_field": "x", "__proto__": {"admin": True}}],
    "not an object": lambda body: [[body], "text", 42, None],
}

# name -> (raw bytes, content type)
RAW_VARIANTS: dict[str, tuple[bytes, str]] = {
    "invalid UTF-8": (b'{"title": "\xff\xfe\xc3\x28", "name": "\xed\xa0\x80"}', "application/json"),
    "truncated JSON": (b'{"title": "open', "application/json"),
    "deeply nested JSON": (b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"),
    "20 MB body": (b'{"title": "' + b"x" * 20_000_000 + b'"}', "application/json"),
    "plain text": (b"title=x", "text/plain"),
    "XML": (b"<task><title>x</title></task>", "application/xml"),
    "form with a NUL": (b"title=a%00b&name=a%00b", "application/x-www-form-urlencoded"),
    "broken multipart": (b"--x\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data; boundary=x"),
}

# Bodies that parse to no known field at all.
EMPTY_LIKE = {"only unknown fields", "form with a NUL", "broken multipart"}

CASES = [
    (pattern, method, row, kind, name)
    for pattern, method, row in ENDPOINTS
    for kind, names in (("json", JSON_VARIANTS), ("raw", RAW_VARIANTS), ("path", {"NUL in the path": 0}))
    if kind == "path" or method in BODY_METHODS
    for name in names
]


def send(team: Team, method: str, path: str, data: bytes, content_type: str) -> Any:
    return team.clients["owner"].generic(method, path, data, content_type=content_type)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "method", "row", "kind", "name"),
    CASES,
    ids=[f"{method} {pattern} [{name}]" for pattern, method, _, _, name in CASES],
)
def test_malformed_input_gets_a_4xx_and_writes_nothing(
    team: Team, pattern: str, method: str, row: Row, kind: str, name: str
) -> None:
    path, body = row.build(team)
    if row.format == "multipart":  # (an upload: its JSON variants break a stand-in body of strings)
        body = {name: "x" for name in body}
    if kind != "path" and body == {}:
        pytest.skip("the request has no body to break (the view reads none)")
    before = snapshot()
    requests: list[tuple[str, bytes, str]] = []
    if kind == "json":
        for variant in JSON_VARIANTS[name](body):
            requests.append((path, json.dumps(variant).encode(), "application/json"))
    elif kind == "raw":
        data, content_type = RAW_VARIANTS[name]
        requests.append((path, data, content_type))
    else:
        ids = UUID.findall(path)
        broken = path.replace(ids[-1], ids[-1] + "%00") if ids else path.rstrip("/") + "%00/"
        requests.append((broken + "?page=%00&move_to=%00", json.dumps(body).encode(), "application/json"))
    for target, data, content_type in requests:
        response = send(team, method, target, data, content_type)
        status = response.status_code
        # A PATCH carrying no known field is an empty PATCH: 200, and it changes nothing.
        no_op = name in EMPTY_LIKE and method == "PATCH" and status == 200
        assert no_op or 400 <= status < 500, (name, target, data[:200], status, response.content[:300])
        after = snapshot()
        changed = {table: rows for table, rows in after.items() if rows != before[table]}
        assert not changed, (name, data[:200], "written:", changed)
