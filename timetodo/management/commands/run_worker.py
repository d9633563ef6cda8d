"""`manage.py run_worker`: run the durable background jobs (timetodo.worker) until SIGTERM."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from timetodo import worker


class Command(BaseCommand):
    help = (
        "Run the background worker: durable jobs (timetodo.jobs), one at a time, retried with back-off; "
        "jobs abandoned by a worker that died run again. SIGTERM finishes the job under way, then exits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between looks for due jobs while idle (default: WORKER_POLL_SECONDS)",
        )

    def handle(self, *args: Any, interval: float | None = None, **options: Any) -> None:
        if interval is not None and not 0 < interval <= 60:
            raise CommandError("--interval must be more than 0 and at most 60 seconds")
        worker.run(interval=interval)
