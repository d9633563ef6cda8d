"""`/metrics`: Prometheus text from django-prometheus plus app metrics, optionally token-protected."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


def test_metrics_are_open_when_no_token_is_set(client: Client, settings) -> None:
    settings.METRICS_TOKEN = ""
    client.get("/health")  # at least one request by view is counted
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in text
    assert "django_http_requests_latency_seconds_by_view_method" in text
    assert "timetodo_websocket_connections_open" in text


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
