"""Application metrics exported at /metrics beside django-prometheus' own."""

from prometheus_client import Counter, Gauge, Histogram

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
