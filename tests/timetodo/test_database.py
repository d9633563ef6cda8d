"""The PostgreSQL connection pool in real use."""

from __future__ import annotations

import os

import psycopg
import pytest
from django.db import connection

from tests.conftest import requires_postgres
from timetodo.db import pool as pool_module


def checks_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The round-trip checks psycopg_pool's own check makes from now on."""
    made: list[object] = []
    real = pool_module.ConnectionPool.check_connection

    def spy(conn: object) -> None:
        made.append(conn)
        real(conn)  # type: ignore[type-var]

    monkeypatch.setattr(pool_module.ConnectionPool, "check_connection", staticmethod(spy))
    return made


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_used_a_moment_ago_is_lent_without_a_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    use_every_idle_connection()  # (each one back in the pool a moment ago)
    made = checks_made(monkeypatch)
    for _ in range(3):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        connection.close()
    assert made == []


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_idle_for_a_while_is_checked_before_it_is_lent(monkeypatch: pytest.MonkeyPatch) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()
    made = checks_made(monkeypatch)
    monkeypatch.setattr(pool_module, "RECENT_SECONDS", 0.0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()
    assert len(made) == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_has_spoken_on_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything waiting on an idle connection's socket (a FATAL notice, EOF) means a real check."""
    use_every_idle_connection()
    pool = connection.pool  # type: ignore[attr-defined]
    victim = pool.getconn()
    pid = victim.info.backend_pid
    pool.putconn(victim)
    assert pool_module.recently_fine(victim)
    made = checks_made(monkeypatch)
    admin_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    assert not pool_module.recently_fine(victim)
    for _ in range(pool.get_stats()["pool_size"] + 1):  # every connection lent once: no error
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        connection.close()
    assert victim in made


def use_every_idle_connection() -> None:
    pool = connection.pool  # type: ignore[attr-defined]
    held = [pool.getconn() for _ in range(pool.get_stats()["pool_size"])]
    for pooled in held:
        pool.putconn(pooled)


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
        # (with a timeout, pg_terminate_backend waits until each backend has gone, as a
        # restart does before the server answers again)
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 6
    # They came back to the pool a moment ago: only what the server sent before it closed
    # them tells they are dead (no round trip is made for a recently used connection).
    assert all(pool_module.recently_fine(pooled) is False for pooled in held)
    # As after a database restart: the next request gets a working connection, not an error
    # (nor a wait past the pool timeout while dead connections are found one by one).
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
