"""Backups that can be proven: a dump, the media, and a manifest to check them against.

A backup is a folder `timetodo-<UTC time>/` holding `database.dump` (PostgreSQL, pg_dump
custom format) or `database.sqlite3` (SQLite, through SQLite's backup API), `media.tar.gz`,
and `manifest.json`: file sizes and SHA-256 checksums, the applied migrations, row counts
per table and checksums of the key tables' contents.

`operations` runs a backup, a restore and a verification out of the parts: `manifest`
(what a backup claims, and checking it), `database` (dump and restore, PostgreSQL and
SQLite) and `media` (the archive, and unpacking it safely). `common` is what they share.
Imports go one way: operations -> parts -> common.
"""

from timetodo.backup.common import Backup, BackupError
from timetodo.backup.manifest import load_backup
from timetodo.backup.operations import create_backup, prune, restore_backup, verify_backup

__all__ = ["Backup", "BackupError", "create_backup", "load_backup", "prune", "restore_backup", "verify_backup"]
