"""What a socket does with one event of a project it may follow: the rules, without a socket.

Every route an event takes to a socket (the hub's fast path, the socket's queue, the
replay after a subscribe, the refill of a gap) asks `decide` and acts on the answer; the
socket side (realtime.feed) only carries the decision out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tasks.events import Verb


@dataclass
class Subscription:
    """One followed project: the last seq the socket has, and when access was last checked
    (time.monotonic())."""

    seq: int
    checked_at: float


class Decision(enum.Enum):
    DROP = "drop"  # not followed (any more), or already delivered
    RECHECK = "recheck"  # check access first, then decide again with rechecked=True
    REFILL = "refill"  # events are missing before this one: fetch them from the log first
    DELIVER = "deliver"  # the next in line: send it


def decide(
    subscription: Subscription | None,
    event: Mapping[str, Any],
    *,
    user_id: str,
    now: float,
    recheck_after: float,
    rechecked: bool = False,
) -> Decision:
    """The next step for `event` on a socket of `user_id` with `subscription` to its project.

    `rechecked` says access was checked after the event was committed: no rule asks for
    another check then. A removal of this very user is re-checked rather than taken for a
    revocation: a removal followed by a re-add is history.
    """
    if subscription is None or event["seq"] <= subscription.seq:
        return Decision.DROP
    if not rechecked and now - subscription.checked_at > recheck_after:
        return Decision.RECHECK
    if event["seq"] > subscription.seq + 1:
        return Decision.REFILL
    if not rechecked and event["verb"] == Verb.MEMBER_REMOVED and event["target_id"] == user_id:
        return Decision.RECHECK
    return Decision.DELIVER
