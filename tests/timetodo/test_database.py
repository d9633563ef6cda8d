"""The PostgreSQL connection pool in real use."""

from __future__ import annotations

import os

import psycopg
import pytest
from django.db import connection

from tests.conftest import requires_postgres


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_pool_survives_the_server_dropping_its_connections() -> None:
    assert connection.settings_dict["OPTIONS"].get("pool")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()  # back to the pool, idle
    # Several idle connections, as after a busy spell: a restart kills them all.
    pool = connection.pool  # type: ignore[attr-defined]
    held = [pool.getconn() for _ in range(6)]
    for pooled in held:
        pool.putconn(pooled)
    admin_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 6
    # As after a database restart: the next request gets a working connection, not an error
    # (nor a wait past the pool timeout while dead connections are found one by one).
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
