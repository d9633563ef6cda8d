"""Application metrics exported at /metrics beside django-prometheus' own."""

from prometheus_client import Counter, Gauge

OPEN_WEBSOCKETS = Gauge(
    "timetodo_websocket_connections_open",
    "WebSocket connections currently open (accepted and not yet closed) on this instance.",
)
EVENTS_PUBLISHED = Counter(
    "timetodo_events_published",
    "Activity events published to the channel layer after their transaction committed.",
)
EVENTS_PUBLISH_FAILURES = Counter(
    "timetodo_events_publish_failures",
    "Activity events that could not be published (clients recover them from the activity log).",
)
