"""`manage.py check_services`: is every service Time to DO needs reachable and working?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from timetodo import health


class Command(BaseCommand):
    help = (
        "Check the database, Redis, the channel layer (a real send/receive) and migrations. "
        "Prints one line per component and exits non-zero if any of them fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        results = health.run_all_checks()
        width = max(len(name) for name in results)
        for name, result in results.items():
            label = name.ljust(width)
            if result.ok:
                self.stdout.write(f"{label}  {self.style.SUCCESS('OK')}      {result.detail}")
            else:
                hint = f" -> {result.hint}" if result.hint else ""
                self.stdout.write(f"{label}  {self.style.ERROR('FAILED')}  {result.detail}{hint}")
        failing = [name for name, result in results.items() if not result.ok]
        if failing:
            raise CommandError(f"{len(failing)} check(s) failed: {', '.join(failing)}", returncode=1)
        self.stdout.write("All services are working.")
