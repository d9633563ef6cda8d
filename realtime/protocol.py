"""The socket protocol's frames (docs/api.md "WebSocket — /ws/") and its limits.

Every frame the server sends is built here, but the events themselves: those come from
`tasks.events.event_frame` (the log's rows) or are published pre-encoded (timetodo.streams).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings

from accounts.models import User

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
MAX_FRAME_BYTES = 64 * 1024


class BadFrame(Exception):
    """A frame the protocol does not understand: answered with bad_request, socket kept."""


ACCESS_REVOKED = "access_revoked"


def encode(frame: dict[str, Any]) -> str:
    """Compact JSON, as the published events are encoded."""
    return json.dumps(frame, separators=(",", ":"))


# Frames from the server


def hello(user: User) -> dict[str, Any]:
    return {
        "type": "hello",
        "user": {"id": str(user.pk), "username": user.username, "full_name": user.full_name},
        "heartbeat": settings.WS_HEARTBEAT_SECONDS,
        "limits": limits(),
    }


def subscribed(project_id: str, seq: int) -> dict[str, Any]:
    return {"type": "subscribed", "project": project_id, "seq": seq}


def unsubscribed(project_id: str, reason: str | None = None) -> dict[str, Any]:
    """The answer to `unsubscribe` (no reason), or the end of a subscription the server decided."""
    frame: dict[str, Any] = {"type": "unsubscribed", "project": project_id}
    if reason is not None:
        frame["reason"] = reason
    return frame


def resync_required(project_id: str, seq: int) -> dict[str, Any]:
    """The missed events are not all in the log (or too many): reload, then follow from `seq`."""
    return {"type": "resync_required", "project": project_id, "seq": seq}


def pong() -> dict[str, Any]:
    return {"type": "pong"}


def error(code: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, **extra}


# Frames from the client


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
