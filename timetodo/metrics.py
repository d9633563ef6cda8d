"""Application metrics exported at /metrics beside django-prometheus' own."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

OPEN_WEBSOCKETS = Gauge(
    "timetodo_websocket_connections_open",
    "WebSocket connections currently open (accepted and not yet closed) on this instance.",
    multiprocess_mode="livesum",  # with WEB_CONCURRENCY processes: the sum over the live ones
)
EVENTS_PUBLISHED = Counter(
    "timetodo_events_published",
    "Activity events published to the channel layer after their transaction committed.",
)
EVENTS_PUBLISH_FAILURES = Counter(
    "timetodo_events_publish_failures",
    "Activity events that could not be published (clients recover them from the activity log).",
)
EVENTS_DELIVERED = Counter(
    "timetodo_events_delivered",
    "Events sent to sockets (live, replayed on resume, or refilled after a gap).",
    ["path"],
)
# Bound once: delivery counts on every frame.
DELIVERED = {path: EVENTS_DELIVERED.labels(path=path) for path in ("live", "replay", "refill")}
DELIVERY_LAG = Histogram(
    "timetodo_event_delivery_lag_seconds",
    "Seconds from an event's commit until this process has handed it to all its sockets (live path).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class JobQueueCollector(Collector):
    """The durable job queue, read from the database at each scrape (so the figures are the
    same whichever process answers, and need no worker to be running)."""

    def collect(self) -> Iterator[Metric]:
        from timetodo.health import queue_figures

        try:
            queue = queue_figures()
        except Exception as exc:  # (a scrape must still show the other metrics)
            logger.warning("job queue metrics unavailable: %s", exc)
            return
        jobs = GaugeMetricFamily("timetodo_jobs", "Background jobs by state.", labels=["state"])
        for state in ("pending", "scheduled", "running", "failed", "successful"):
            jobs.add_metric([state], getattr(queue, state))
        yield jobs
        yield GaugeMetricFamily(
            "timetodo_jobs_oldest_pending_seconds",
            "How long the oldest job that is due has waited for a worker (0 when none waits).",
            value=queue.oldest_pending_seconds,
        )


def job_queue_exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobQueueCollector())
    return generate_latest(registry)
