"""What every part of a backup shares: its file names, its error, the backup itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
MEDIA_FILE = "media.tar.gz"


class BackupError(Exception):
    """Something an operator must fix; the message says what."""


@dataclass
class Backup:
    path: Path
    manifest: dict[str, Any]


def is_postgres(alias: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[alias].vendor == "postgresql"
