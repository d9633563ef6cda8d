"""`/metrics`: Prometheus text from django-prometheus plus app metrics, optionally token-protected."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


def sample(text: str, prefix: str) -> float:
    """The value of the first sample line starting with `prefix`."""
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line.rsplit(" ", 1)[1])


def test_metrics_count_requests_and_latency_by_view(client: Client, settings) -> None:
    settings.METRICS_TOKEN = ""
    schema_count = (
        'django_http_requests_total_by_view_transport_method_total{method="GET",transport="http",view="schema"}'
    )
    latency_count = 'django_http_requests_latency_seconds_by_view_method_count{method="GET",view="schema"}'
    before = client.get("/metrics").content.decode()
    client.get("/api/schema/")
    client.get("/api/schema/")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    after = response.content.decode()
    previous = sample(before, schema_count) if schema_count in before else 0.0
    assert sample(after, schema_count) == previous + 2
    assert sample(after, latency_count) >= 2
    assert sample(after, "timetodo_websocket_connections_open") >= 0


def test_database_metrics_are_exported(client: Client, settings) -> None:
    settings.METRICS_TOKEN = ""
    client.get("/health/detailed")  # runs queries through the instrumented backend
    text = client.get("/metrics").content.decode()
    assert "django_db_execute_total" in text


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", TOKEN, f"Basic {TOKEN}"])
def test_metrics_need_the_bearer_token_when_it_is_set(client: Client, settings, header: str | None) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"django_http" not in response.content


def test_metrics_with_the_right_token(client: Client, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"timetodo_websocket_connections_open" in response.content
