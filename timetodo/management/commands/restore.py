"""`manage.py restore PATH [--yes]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from timetodo.backup import BackupError, load_backup, restore_backup


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` (checksums first; --yes to replace existing data)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A backup folder (timetodo-<time>).")
        parser.add_argument("--yes", action="store_true", help="Replace the data already in the database.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backup = load_backup(Path(options["path"]))
            problems = restore_backup(backup, overwrite=options["yes"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        counts = backup.manifest["row_counts"]
        if problems:
            raise CommandError("Restored, but the data differs from the manifest: " + "; ".join(problems))
        self.stdout.write(
            self.style.SUCCESS(f"Restored {backup.path}: {sum(counts.values())} rows in {len(counts)} tables match.")
        )
