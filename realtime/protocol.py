"""The socket protocol's frames (API.md "WebSocket — /ws/") and its limits."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
MAX_FRAME_BYTES = 64 * 1024


class BadFrame(Exception):
    """A frame the protocol does not understand: answered with bad_request, socket kept."""


def error(code: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, **extra}


def project_id_of(frame: dict[str, Any]) -> str:
    try:
        return str(uuid.UUID(str(frame["project"])))
    except (KeyError, ValueError):
        raise BadFrame("project must be a project id") from None


def since_of(frame: dict[str, Any]) -> int | None:
    since = frame.get("since")
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise BadFrame("since must be a whole number")
    return since


def limits() -> dict[str, Any]:
    return {
        "max_subscriptions": settings.WS_MAX_SUBSCRIPTIONS,
        "replay_events": settings.WS_REPLAY_MAX_EVENTS,
    }
