"""`/health` (liveness, no I/O) and `/health/detailed` (every dependency), as docs/api.md says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from django.test import Client

from timetodo import __version__, lifecycle

pytestmark = pytest.mark.django_db

BAD_REDIS_URL = "redis://127.0.0.1:1/0"


def test_liveness_answers_without_any_query(client: Client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert datetime.fromisoformat(body["timestamp"]).utcoffset() is not None
    assert response["Cache-Control"].startswith("max-age=0")


def test_detailed_reports_every_component_healthy(client: Client, settings) -> None:
    response = client.get("/health/detailed")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"] == "healthy"
    assert body["channel_layer"] == "healthy"
    assert body["migrations"] == "applied"
    assert body["redis"] == ("healthy" if settings.REDIS_URL else "not_configured")
    assert body["failing"] == []
    assert {"timestamp", "version"} <= body.keys()


def test_detailed_is_503_naming_redis_and_channel_layer_when_redis_is_unreachable(client: Client, settings) -> None:
    settings.REDIS_URL = BAD_REDIS_URL
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [BAD_REDIS_URL]}}
    }
    response = client.get("/health/detailed")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["redis"] == "unhealthy"
    assert body["channel_layer"] == "unhealthy"
    assert body["database"] == "healthy"
    assert sorted(body["failing"]) == ["channel_layer", "redis"]
    # Component errors are logged for operators, never shown to the caller.
    assert b"127.0.0.1" not in response.content


def test_health_is_reachable_over_plain_http_with_any_host(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["timetodo.example.com"]
    assert client.get("/health", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/health/detailed", HTTP_HOST="localhost").status_code == 200
    # Everything else is redirected to HTTPS or refused for an unknown host.
    assert client.get("/api/schema/", HTTP_HOST="timetodo.example.com").status_code == 301
    assert client.get("/api/schema/", HTTP_HOST="evil.example.net").status_code == 400


def test_health_only_answers_get(client: Client) -> None:
    assert client.post("/health").status_code == 405


def test_health_answers_head_as_a_load_balancer_may_probe(client: Client) -> None:
    assert client.head("/health").status_code == 200
    assert client.head("/health/detailed").status_code == 200


@pytest.fixture
def draining() -> Iterator[None]:
    lifecycle.start_draining()
    try:
        yield
    finally:
        lifecycle.reset()


def test_a_draining_process_is_alive_but_not_ready(client: Client, draining: None) -> None:
    """The old release while it drains: a load balancer must stop sending it work."""
    live = client.get("/health")
    assert live.status_code == 200
    assert live.json()["status"] == "draining"
    detailed = client.get("/health/detailed")
    assert detailed.status_code == 503
    body = detailed.json()
    assert body["status"] == "draining"
    assert body["draining"] is True
    assert body["database"] == "healthy"  # the components still say how they are
    assert body["failing"] == []


def test_a_serving_process_is_not_draining(client: Client) -> None:
    body = client.get("/health/detailed").json()
    assert body["draining"] is False
    assert client.get("/health").json()["status"] == "healthy"
