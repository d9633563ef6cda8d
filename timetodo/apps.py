from django.apps import AppConfig


class TimetodoConfig(AppConfig):
    name = "timetodo"
    verbose_name = "Time to DO (project)"

    def ready(self) -> None:
        # Register the app metrics so /metrics shows them from the first scrape.
        from timetodo import metrics  # noqa: F401
