"""Every migration is reversible: forward to the latest, back to zero, forward again."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import requires_postgres

OUR_APPS = ["accounts", "tasks"]


def pending() -> list[str]:
    executor = MigrationExecutor(connection)
    return [f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(executor.loader.graph.leaf_nodes())]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_migrations_run_back_to_zero_and_forward_again() -> None:
    assert pending() == []
    # Unapplying accounts takes everything depending on the user model with it.
    call_command("migrate", "tasks", "zero", verbosity=0)
    call_command("migrate", "token_blacklist", "zero", verbosity=0)
    call_command("migrate", "admin", "zero", verbosity=0)
    call_command("migrate", "accounts", "zero", verbosity=0)
    tables = set(connection.introspection.table_names())
    assert not {t for t in tables if t.startswith(("tasks_", "accounts_"))}
    assert any(name.startswith(tuple(OUR_APPS)) for name in pending())
    call_command("migrate", verbosity=0)
    assert pending() == []
    assert {"tasks_task", "tasks_activity", "accounts_user"} <= set(connection.introspection.table_names())
