"""Application metrics exported at /metrics beside django-prometheus' own."""

from prometheus_client import Gauge

OPEN_WEBSOCKETS = Gauge(
    "timetodo_websocket_connections_open",
    "WebSocket connections currently open (accepted and not yet closed) on this instance.",
)
