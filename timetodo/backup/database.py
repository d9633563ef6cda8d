"""The database in a backup: dumping it (PostgreSQL: pg_dump, SQLite: its backup API),
restoring it over the live one or into a scratch database, and connecting to either."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from timetodo.backup.common import PG_DUMP_FILE, SQLITE_FILE, Backup, BackupError, is_postgres


def ensure_reachable() -> None:
    try:
        connections[DEFAULT_DB_ALIAS].ensure_connection()
    except Exception as exc:
        raise BackupError(f"the database is unreachable ({type(exc).__name__}); check DATABASE_URL") from None


def _pg_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq reads the password from the environment: never on a command line or in logs."""
    environment = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if settings_dict.get("PASSWORD"):
        environment["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    sslmode = (settings_dict.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        environment["PGSSLMODE"] = str(sslmode)
    return environment


def _pg_target(settings_dict: dict[str, Any], name: str | None = None) -> list[str]:
    target = ["--dbname", str(name or settings_dict["NAME"])]
    if settings_dict.get("HOST"):
        target += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        target += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        target += ["--username", str(settings_dict["USER"])]
    return target


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools (Debian: postgresql-client).")
    return path


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else 'exit code ' + str(result.returncode)}")


@contextmanager
def dump_postgres(folder: Path) -> Iterator[str]:
    """pg_dump from an exported snapshot, then the alias to read the manifest's figures from,
    still inside that snapshot: writes during the backup change neither, so they always agree."""
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
        command += ["--file", str(folder / PG_DUMP_FILE), *_pg_target(connection.settings_dict)]
        _run(command, _pg_environment(connection.settings_dict), "pg_dump")
        yield DEFAULT_DB_ALIAS


@contextmanager
def dump_sqlite(folder: Path) -> Iterator[str]:
    """SQLite's backup API copies a consistent state; the alias given is that copy, so the
    manifest's figures come from it."""
    connection = connections[DEFAULT_DB_ALIAS]
    source = sqlite3.connect(str(connection.settings_dict["NAME"]))
    target = sqlite3.connect(str(folder / SQLITE_FILE))
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()
    with sqlite_alias(folder / SQLITE_FILE) as alias:
        yield alias


@contextmanager
def sqlite_alias(path: Path) -> Iterator[str]:
    """A temporary database alias for a SQLite file."""
    alias = f"file_{uuid.uuid4().hex[:8]}"
    base = connections.settings[DEFAULT_DB_ALIAS] if not is_postgres() else None
    settings_dict = dict(base) if base else {}
    settings_dict.update(
        ENGINE="django.db.backends.sqlite3", NAME=str(path), OPTIONS={}, CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False
    )
    for key, default in (("ATOMIC_REQUESTS", False), ("AUTOCOMMIT", True), ("TIME_ZONE", None), ("TEST", {})):
        settings_dict.setdefault(key, default)
    settings_dict.setdefault("USER", "")
    settings_dict.setdefault("PASSWORD", "")
    settings_dict.setdefault("HOST", "")
    settings_dict.setdefault("PORT", "")
    connections.settings[alias] = settings_dict
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections.settings[alias]


def database_has_data(alias: str = DEFAULT_DB_ALIAS) -> bool:
    tables = set(connections[alias].introspection.table_names())
    for label in ("accounts.User", "tasks.Project"):
        model = apps.get_model(label)
        if model._meta.db_table in tables and model._default_manager.using(alias).exists():
            return True
    return False


def _restore_into(backup: Backup, settings_dict: dict[str, Any], name: str | None = None) -> None:
    if backup.manifest["engine"] == "postgresql":
        command = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges"]
        command += ["--single-transaction", "--exit-on-error", *_pg_target(settings_dict, name)]
        _run([*command, str(backup.path / PG_DUMP_FILE)], _pg_environment(settings_dict), "pg_restore")
        return
    source = sqlite3.connect(str(backup.path / SQLITE_FILE))
    target = sqlite3.connect(str(name or settings_dict["NAME"]))
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


def _drop_tables_not_in(backup: Backup) -> None:
    """After restoring an older backup: tables made by later migrations go too, so
    `migrate` can create them again (the restored django_migrations says so)."""
    connection = connections[DEFAULT_DB_ALIAS]
    known = set(backup.manifest["row_counts"])
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table not in known:
                cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE")


def restore_live(backup: Backup) -> None:
    """Replace the live database with the backup's (PostgreSQL: pg_restore --clean in one
    transaction, so a failing restore changes nothing; SQLite: the backup API). Django's
    own connections and pool are closed first."""
    connection = connections[DEFAULT_DB_ALIAS]
    connection.close()
    if connection.settings_dict.get("OPTIONS", {}).get("pool"):
        connection.close_pool()  # type: ignore[attr-defined]
    _restore_into(backup, connection.settings_dict)
    if backup.manifest["engine"] == "postgresql":
        _drop_tables_not_in(backup)


@contextmanager
def scratch_database(backup: Backup) -> Iterator[str]:
    """A temporary database with the backup restored, as a Django alias; dropped afterwards."""
    if backup.manifest["engine"] == "sqlite":
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "verify.sqlite3"
            _restore_into(backup, {}, str(path))
            with sqlite_alias(path) as alias:
                yield alias
        return
    base = dict(connections[DEFAULT_DB_ALIAS].settings_dict)
    name = f"{base['NAME']}_verify_{uuid.uuid4().hex[:8]}"
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    except DatabaseError as exc:
        raise BackupError(f"cannot create a scratch database to verify in (the user needs CREATEDB): {exc}") from None
    alias = f"verify_{uuid.uuid4().hex[:8]}"
    try:
        _restore_into(backup, base, name)
        options = {k: v for k, v in base["OPTIONS"].items() if k != "pool"}
        connections.settings[alias] = {**base, "NAME": name, "OPTIONS": options}
        yield alias
    finally:
        if alias in connections.settings:
            connections[alias].close()
            del connections.settings[alias]
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
