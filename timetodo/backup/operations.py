"""A backup, a restore and a verification, run out of the parts (manifest, database, media)."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from timetodo.backup.common import PG_DUMP_FILE, SQLITE_FILE, Backup, BackupError, is_postgres
from timetodo.backup.database import (
    database_has_data,
    dump_postgres,
    dump_sqlite,
    ensure_reachable,
    restore_live,
    scratch_database,
)
from timetodo.backup.manifest import check_compatible, compare, describe, write_manifest
from timetodo.backup.media import archive_media, put_media_back, stage_media

BACKUP_NAME = re.compile(r"timetodo-\d{8}T\d{12}Z")


def create_backup(output: Path) -> Backup:
    """Dump the database and archive the media, with a manifest describing both."""
    ensure_reachable()
    output.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
    folder = output / f"timetodo-{stamp}"
    partial = output / f".partial-{stamp}"
    partial.mkdir()
    try:
        with (dump_postgres if is_postgres() else dump_sqlite)(partial) as alias:
            described = describe(alias)
        files = [PG_DUMP_FILE if is_postgres() else SQLITE_FILE, archive_media(partial)]
        manifest = write_manifest(partial, files, described)
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


def restore_backup(backup: Backup, *, overwrite: bool) -> list[str]:
    check_compatible(backup)
    if database_has_data() and not overwrite:
        raise BackupError("the database already holds data: pass --yes to replace it with the backup")
    with tempfile.TemporaryDirectory() as scratch:
        media = stage_media(backup, Path(scratch))
        restore_live(backup)
        if media is not None:
            put_media_back(media)
    return compare(backup, DEFAULT_DB_ALIAS)


def verify_backup(backup: Backup) -> list[str]:
    """Restore into a scratch database and compare it with the manifest; the live database is untouched."""
    check_compatible(backup)
    ensure_reachable()
    with scratch_database(backup) as alias:
        return compare(backup, alias)
