"""The manifest: what a backup claims (file checksums, migrations, row counts, content
checksums of the key tables), and checking a backup or a database against it."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from timetodo import __version__
from timetodo.backup.common import MANIFEST, MEDIA_FILE, PG_DUMP_FILE, SQLITE_FILE, Backup, BackupError, is_postgres

# Contents compared row by row (hashed), beyond the row counts of every table.
KEY_MODELS = ["accounts.User", "tasks.Project", "tasks.Membership", "tasks.Column", "tasks.Task", "tasks.Activity"]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def applied_migrations(alias: str = DEFAULT_DB_ALIAS) -> dict[str, list[str]]:
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    state: dict[str, list[str]] = {}
    for app, name in sorted(loader.applied_migrations):
        state.setdefault(app, []).append(name)
    return state


def row_counts(alias: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    connection = connections[alias]
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 (own table names)
            counts[table] = int(cursor.fetchone()[0])
    return counts


def checksum_columns() -> dict[str, list[str]]:
    """The key tables and the columns whose contents a backup's checksums cover."""
    columns = {}
    for label in KEY_MODELS:
        model = apps.get_model(label)
        columns[model._meta.db_table] = [field.column for field in model._meta.concrete_fields]
    return columns


def content_checksums(alias: str = DEFAULT_DB_ALIAS, columns: dict[str, list[str]] | None = None) -> dict[str, str]:
    """SHA-256 of each key table's rows (the given columns, in order of the first one: the
    primary key), as JSON. Reads the tables as they are, so a backup made by older code
    compares by its own columns."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    tables = set(connection.introspection.table_names())
    checksums = {}
    for table, names in (columns or checksum_columns()).items():
        digest = hashlib.sha256()
        if table in tables:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {', '.join(quote(n) for n in names)} FROM {quote(table)} ORDER BY {quote(names[0])}"  # noqa: S608
                )
                for row in cursor.fetchall():
                    values = [str(v) if isinstance(v, uuid.UUID) else v for v in row]
                    digest.update(json.dumps(values, cls=DjangoJSONEncoder).encode())
        checksums[table] = digest.hexdigest()
    return checksums


def describe(alias: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    columns = checksum_columns()
    return {
        "migrations": applied_migrations(alias),
        "row_counts": row_counts(alias),
        "checksum_columns": columns,
        "checksums": content_checksums(alias, columns),
    }


def write_manifest(folder: Path, files: list[str], described: dict[str, Any]) -> dict[str, Any]:
    """The manifest of the backup in `folder`: `files` (sizes and checksums) and the database
    as `described`; written to `folder` and returned."""
    manifest = {
        "format": 1,
        "created_at": timezone.now().isoformat(),
        "app_version": __version__,
        "engine": "postgresql" if is_postgres() else "sqlite",
        "files": {name: {"size": (folder / name).stat().st_size, "sha256": sha256(folder / name)} for name in files},
        **described,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, cls=DjangoJSONEncoder))
    return manifest


def load_backup(path: Path) -> Backup:
    """The backup at `path`, with every file checked against the manifest."""
    if not (path / MANIFEST).is_file():
        raise BackupError(f"{path} is not a backup: it has no {MANIFEST}")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{path / MANIFEST} is damaged") from None
    engine = manifest.get("engine")
    required = {PG_DUMP_FILE if engine == "postgresql" else SQLITE_FILE, MEDIA_FILE}
    if engine not in ("postgresql", "sqlite") or not required <= set(files):
        raise BackupError(f"{path / MANIFEST} is damaged: it does not describe {', '.join(sorted(required))}")
    for name, expected in files.items():
        file = path / name
        if not file.is_file():
            raise BackupError(f"{name} is missing from {path}")
        if file.stat().st_size != expected["size"] or sha256(file) != expected["sha256"]:
            raise BackupError(f"{name} does not match its checksum: the backup is truncated or altered")
    return Backup(path, manifest)


def check_compatible(backup: Backup) -> None:
    """Refuse a backup whose schema is newer than this code knows."""
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = [
        f"{app}.{name}"
        for app, names in backup.manifest["migrations"].items()
        for name in names
        if (app, name) not in known
    ]
    if unknown:
        raise BackupError(f"the backup comes from newer code: unknown migrations {', '.join(unknown[:5])}")
    engine = "postgresql" if is_postgres() else "sqlite"
    if backup.manifest["engine"] != engine:
        raise BackupError(f"the backup is of a {backup.manifest['engine']} database; this one is {engine}")


def compare(backup: Backup, alias: str) -> list[str]:
    """Differences between the manifest and a database: empty when they agree."""
    problems = []
    counts = row_counts(alias)
    for table, expected in backup.manifest["row_counts"].items():
        if counts.get(table) != expected:
            problems.append(f"{table}: {counts.get(table)} rows, the backup has {expected}")
    checksums = content_checksums(alias, backup.manifest.get("checksum_columns"))
    for table, expected in backup.manifest["checksums"].items():
        if checksums.get(table) != expected:
            problems.append(f"{table}: contents differ from the backup")
    return problems
