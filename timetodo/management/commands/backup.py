"""`manage.py backup [--output DIR] [--keep N] [--verify]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from timetodo.backup import BackupError, create_backup, prune, verify_backup


class Command(BaseCommand):
    help = "Back up the database (pg_dump custom format, or SQLite's backup API) and media, with a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "backups"), help="Folder for backups.")
        parser.add_argument("--keep", type=int, help="Keep only the newest N backups in the folder.")
        parser.add_argument(
            "--verify", action="store_true", help="Restore the new backup into a scratch database and compare."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keep"] is not None and options["keep"] < 1:
            raise CommandError("--keep must be at least 1.")
        try:
            backup = create_backup(Path(options["output"]))
            self.stdout.write(f"Backup written: {backup.path}")
            for name, described in backup.manifest["files"].items():
                self.stdout.write(f"  {name}: {described['size']} bytes, sha256 {described['sha256']}")
            self.stdout.write(
                f"  {sum(backup.manifest['row_counts'].values())} rows in {len(backup.manifest['row_counts'])} tables"
            )
            if options["verify"]:
                problems = verify_backup(backup)
                if problems:
                    raise CommandError("Verification failed: " + "; ".join(problems))
                self.stdout.write(self.style.SUCCESS("Verified: a scratch restore matches the manifest."))
            if options["keep"] is not None:  # only once the new backup is proven, if asked to
                for old in prune(Path(options["output"]), options["keep"], protect=backup.path):
                    self.stdout.write(f"Deleted the older backup {old}")
        except BackupError as exc:
            raise CommandError(str(exc)) from None
