"""Degraded dependencies without real outages (tests/timetodo/test_faults.py cuts the real ones)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from tasks import selectors
from tests.helpers.teams import Team
from timetodo.cache import ResilientRedisCache


def test_the_cache_serves_from_memory_while_redis_is_unreachable(caplog, monkeypatch) -> None:
    monkeypatch.setattr(ResilientRedisCache, "warned_at", 0.0)  # (no outage logged lately)
    params = {"OPTIONS": {"socket_connect_timeout": 0.2}}
    cache = ResilientRedisCache("redis://127.0.0.1:1/0", params)
    cache.set("seen", 1)
    assert cache.get("seen") == 1
    assert cache.add("attempts", 0)
    assert cache.incr("attempts") == 1
    assert cache.get_many(["seen", "attempts"]) == {"seen": 1, "attempts": 1}
    # Another request's cache object (Django makes one per request context) shares both the
    # counts and the minute's one warning.
    other = ResilientRedisCache("redis://127.0.0.1:1/0", params)
    assert other.incr("attempts") == 2
    assert "Redis cache unavailable" in caplog.text
    assert caplog.text.count("Redis cache unavailable") == 1  # logged once a minute, not per call


@pytest.mark.django_db
def test_a_database_error_in_a_view_is_a_503_json_answer(team: Team, monkeypatch) -> None:
    def unreachable(**kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "with_role", unreachable)
    response = team.clients["viewer"].get("/api/v1/tasks/00000000-0000-0000-0000-000000000001/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert response.json() == {"detail": "The database is unavailable. Try again shortly."}
