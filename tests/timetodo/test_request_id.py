"""Every request gets an id: taken from X-Request-ID or generated, echoed, and on its log lines."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.test import Client

from timetodo.logs import RequestIdFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_log() -> Iterator[io.StringIO]:
    """The request logger's lines, formatted exactly as the configured text formatter does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(django_settings.LOGGING["formatters"]["text"]["format"]))
    logger = logging.getLogger("timetodo.request")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_a_given_request_id_is_echoed_and_logged(client: Client, request_log: io.StringIO) -> None:
    response = client.get("/health", HTTP_X_REQUEST_ID="abc-123.XYZ")
    assert response["X-Request-ID"] == "abc-123.XYZ"
    assert "[abc-123.XYZ] timetodo.request: GET /health 200" in request_log.getvalue()


def test_a_request_id_is_generated_when_missing(client: Client, request_log: io.StringIO) -> None:
    first = client.get("/api/schema/")["X-Request-ID"]
    second = client.get("/api/schema/")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second
    assert f"[{first}]" in request_log.getvalue()


@pytest.mark.parametrize("bad", ["has space", "x" * 200, "new\nline", "trailing-newline\n", "<script>"])
def test_an_unsafe_request_id_is_replaced(client: Client, bad: str) -> None:
    response = client.get("/health", HTTP_X_REQUEST_ID=bad)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_path_cannot_forge_log_lines(client: Client, request_log: io.StringIO) -> None:
    client.get("/x%0A2026-01-01 00:00:00 INFO [forged] fake: line")
    lines = request_log.getvalue().splitlines()
    assert len(lines) == 1
    assert "GET /x%0A2026-01-01" in lines[0]


def test_lines_outside_a_request_have_a_placeholder(request_log: io.StringIO) -> None:
    logging.getLogger("timetodo.request").warning("outside")
    assert "[-] timetodo.request: outside" in request_log.getvalue()
