from django.apps import AppConfig


class TimetodoConfig(AppConfig):
    name = "timetodo"
    verbose_name = "Time to DO (project)"

    def ready(self) -> None:
        # Register the app metrics so /metrics shows them from the first scrape, and the checks.
        from timetodo import checks, metrics  # noqa: F401
