"""Publishing events to channel-layer groups: the one way domain code reaches live sockets.

Services call `publish_on_commit`, so an event leaves only once its transaction has
committed, and never for a rolled-back change. Events must be JSON-safe primitives: the
Redis layer msgpacks them. A failure to publish is logged and counted, never raised:
the data is committed, and clients recover anything missed from the activity log.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from timetodo.metrics import EVENTS_PUBLISH_FAILURES, EVENTS_PUBLISHED

logger = logging.getLogger(__name__)

EVENT_MESSAGE_TYPE = "stream.event"


REVOKE_MESSAGE_TYPE = "stream.revoke"


PROJECT_STREAM_PREFIX = "project."


def project_stream(project_id: object) -> str:
    return f"{PROJECT_STREAM_PREFIX}{project_id}"


def user_stream(user_id: object) -> str:
    """Each socket of a user listens here: a deactivation closes them all."""
    return f"user.{user_id}"


def publish_unsafe(stream: str, event: dict[str, Any]) -> None:
    """Send now, whatever the transaction state. Only for `publish_on_commit` and tests."""
    try:
        layer = get_channel_layer()
        if layer is None:
            raise RuntimeError("no channel layer configured")
        # The frame is encoded once here, not once per socket: a project's event may go to
        # hundreds of sockets.
        text = json.dumps(event, separators=(",", ":"))
        message = {"type": EVENT_MESSAGE_TYPE, "stream": stream, "event": event, "text": text}
        async_to_sync(layer.group_send)(stream, message)
    except Exception:
        EVENTS_PUBLISH_FAILURES.inc()
        logger.exception("could not publish an event to %s", stream)
        return
    EVENTS_PUBLISHED.inc()


def publish_on_commit(stream: str, event: dict[str, Any]) -> None:
    transaction.on_commit(partial(publish_unsafe, stream, event), robust=True)


def revoke_unsafe(stream: str, reason: str) -> None:
    """Tell every socket on a stream to re-check access now (project deleted, user deactivated)."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            message = {"type": REVOKE_MESSAGE_TYPE, "stream": stream, "reason": reason}
            async_to_sync(layer.group_send)(stream, message)
    except Exception:
        logger.exception("could not send a revocation to %s", stream)


def revoke_on_commit(stream: str, reason: str) -> None:
    transaction.on_commit(partial(revoke_unsafe, stream, reason), robust=True)
