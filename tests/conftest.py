"""Shared fixtures. Tests needing PostgreSQL or Redis skip unless DATABASE_URL / REDIS_URL are set."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="needs PostgreSQL: set DATABASE_URL (CI does)",
)
requires_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL (CI does)")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
