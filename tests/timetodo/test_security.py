"""Secure by default in production: `check --deploy` is clean, headers are set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "production-like-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "timetodo.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://timetodo.example.com",
    "DATABASE_URL": "sqlite:///:memory:",
}


def test_check_deploy_prints_no_warning_with_production_variables() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_security_headers_on_https_responses(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/api/docs/", secure=True)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_render_load_balancer_https_header_is_trusted(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/api/docs/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get("/api/docs/").status_code == 301
