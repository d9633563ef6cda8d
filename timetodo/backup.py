"""Backups that can be proven: a dump, the media, and a manifest to check them against.

A backup is a folder `timetodo-<UTC time>/` holding `database.dump` (PostgreSQL, pg_dump
custom format) or `database.sqlite3` (SQLite, through SQLite's backup API), `media.tar.gz`,
and `manifest.json`: file sizes and SHA-256 checksums, the applied migrations, row counts
per table and checksums of the key tables' contents.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from timetodo import __version__

MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
MEDIA_FILE = "media.tar.gz"
# Contents compared row by row (hashed), beyond the row counts of every table.
KEY_MODELS = ["accounts.User", "tasks.Project", "tasks.Membership", "tasks.Column", "tasks.Task", "tasks.Activity"]


class BackupError(Exception):
    """Something an operator must fix; the message says what."""


@dataclass
class Backup:
    path: Path
    manifest: dict[str, Any]


def is_postgres(alias: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[alias].vendor == "postgresql"


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


def _dump_postgres(folder: Path) -> dict[str, Any]:
    """pg_dump and the manifest's figures from one snapshot: writes during the backup
    change neither, so they always agree."""
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
        command += ["--file", str(folder / PG_DUMP_FILE), *_pg_target(connection.settings_dict)]
        _run(command, _pg_environment(connection.settings_dict), "pg_dump")
        return describe()


def _dump_sqlite(folder: Path) -> dict[str, Any]:
    """SQLite's backup API copies a consistent state; the figures come from that copy."""
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
        return describe(alias)


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


def _archive_media(folder: Path) -> str:
    media = Path(settings.MEDIA_ROOT)
    with tarfile.open(folder / MEDIA_FILE, "w:gz") as archive:
        if media.is_dir():
            archive.add(media, arcname="media")
    return MEDIA_FILE


BACKUP_NAME = re.compile(r"timetodo-\d{8}T\d{12}Z")


def create_backup(output: Path) -> Backup:
    """Dump the database and archive the media, with a manifest describing both."""
    try:
        connections[DEFAULT_DB_ALIAS].ensure_connection()
    except Exception as exc:
        raise BackupError(f"the database is unreachable ({type(exc).__name__}); check DATABASE_URL") from None
    output.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
    folder = output / f"timetodo-{stamp}"
    partial = output / f".partial-{stamp}"
    partial.mkdir()
    try:
        described = _dump_postgres(partial) if is_postgres() else _dump_sqlite(partial)
        files = [PG_DUMP_FILE if is_postgres() else SQLITE_FILE, _archive_media(partial)]
        manifest = {
            "format": 1,
            "created_at": timezone.now().isoformat(),
            "app_version": __version__,
            "engine": "postgresql" if is_postgres() else "sqlite",
            "files": {
                name: {"size": (partial / name).stat().st_size, "sha256": sha256(partial / name)} for name in files
            },
            **described,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, cls=DjangoJSONEncoder))
        partial.rename(folder)  # a backup folder is complete or absent
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Backup(folder, manifest)


def prune(output: Path, keep: int, *, protect: Path) -> list[Path]:
    """Delete all but the newest `keep` backups made by this command (never `protect`)."""
    ours = sorted(p for p in output.iterdir() if p.is_dir() and BACKUP_NAME.fullmatch(p.name))
    removed = [old for old in ours[:-keep] if old != protect]
    for old in removed:
        shutil.rmtree(old)
    return removed


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


def _unsafe(member: tarfile.TarInfo, destination: Path) -> str | None:
    """Why unpacking `member` into `destination` could write anything but a plain file or
    folder inside it (the reason, to name in the error), or None when it cannot."""
    path = PurePosixPath(member.name)
    if path.is_absolute():
        return "is an absolute path"
    if ".." in path.parts:
        return "has a '..' component"
    if member.issym():
        return "is a symbolic link"
    if member.islnk():
        return "is a hard link"
    if member.isdev():
        return "is a device file or FIFO"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder"
    root = destination.resolve()
    if not (root / member.name).resolve().is_relative_to(root):
        return "would land outside the destination"
    return None


def _as_plain_data(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """What Python's "data" filter makes of a file or folder, done here so that every Python
    unpacks alike: no setuid, setgid, sticky or group/other write bits, readable and
    writable by its owner, owned by whoever restores (not the archive's user ids)."""
    mode = member.mode & 0o755
    if member.isdir():
        mode |= 0o700
    else:
        if not mode & 0o100:
            mode &= ~0o111
        mode |= 0o600
    member.mode = mode
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    return member


def _staged_media(backup: Backup, scratch: Path) -> Path | None:
    """Unpack the media archive before anything is replaced: a bad archive stops the
    restore while the live data is still untouched.

    Every member is checked first, by our own rules and on every Python: an archive with a
    single unsafe member (absolute path, `..`, link, device file or FIFO) is refused whole,
    before anything is unpacked. tarfile's filters arrived in Python 3.11.4, so on
    3.11.0-3.11.3 those checks are the only guard; where the "data" filter exists it is
    applied as well."""
    try:
        with tarfile.open(backup.path / MEDIA_FILE, "r:gz") as archive:
            members = archive.getmembers()
            for member in members:
                reason = _unsafe(member, scratch)
                if reason is not None:
                    raise BackupError(
                        f"{MEDIA_FILE} holds an unsafe member: {member.name!r} {reason}; nothing was restored"
                    )
            members = [_as_plain_data(member) for member in members]
            if hasattr(tarfile, "data_filter"):
                archive.extractall(scratch, members=members, filter="data")
            else:  # Python 3.11.0-3.11.3: no filter argument; the checks above guard alone
                archive.extractall(scratch, members=members)  # noqa: S202 (checked above)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{MEDIA_FILE} cannot be unpacked: {exc}") from None
    media = scratch / "media"
    return media if media.is_dir() else None


def _drop_tables_not_in(backup: Backup) -> None:
    """After restoring an older backup: tables made by later migrations go too, so
    `migrate` can create them again (the restored django_migrations says so)."""
    connection = connections[DEFAULT_DB_ALIAS]
    known = set(backup.manifest["row_counts"])
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table not in known:
                cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE")


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


def restore_backup(backup: Backup, *, overwrite: bool) -> list[str]:
    check_compatible(backup)
    if database_has_data() and not overwrite:
        raise BackupError("the database already holds data: pass --yes to replace it with the backup")
    with tempfile.TemporaryDirectory() as scratch:
        media = _staged_media(backup, Path(scratch))
        connection = connections[DEFAULT_DB_ALIAS]
        connection.close()
        if connection.settings_dict.get("OPTIONS", {}).get("pool"):
            connection.close_pool()  # type: ignore[attr-defined]
        _restore_into(backup, connection.settings_dict)
        if backup.manifest["engine"] == "postgresql":
            _drop_tables_not_in(backup)
        if media is not None:
            shutil.copytree(media, Path(settings.MEDIA_ROOT), dirs_exist_ok=True)
    return compare(backup, DEFAULT_DB_ALIAS)


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


def verify_backup(backup: Backup) -> list[str]:
    """Restore into a scratch database and compare it with the manifest; the live database is untouched."""
    check_compatible(backup)
    try:
        connections[DEFAULT_DB_ALIAS].ensure_connection()
    except Exception as exc:
        raise BackupError(f"the database is unreachable ({type(exc).__name__}); check DATABASE_URL") from None
    with scratch_database(backup) as alias:
        return compare(backup, alias)
