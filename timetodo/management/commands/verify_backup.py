"""`manage.py verify_backup PATH`: prove a backup restores, without touching the live database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from timetodo.backup import BackupError, load_backup, verify_backup


class Command(BaseCommand):
    help = "Check a backup's checksums, restore it into a scratch database and compare row counts and contents."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A backup folder (timetodo-<time>).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backup = load_backup(Path(options["path"]))
            problems = verify_backup(backup)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if problems:
            raise CommandError("Verification failed: " + "; ".join(problems))
        self.stdout.write(self.style.SUCCESS(f"Verified: {backup.path} restores and matches its manifest."))
