"""The delivery rules (realtime.delivery.decide), without a socket, and the hub's fast path
(realtime.feed.Feed.offer) acting on them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtime import feed as feed_module
from realtime.delivery import Decision, Subscription, decide
from realtime.feed import Feed
from tasks.events import Verb
from timetodo.metrics import DELIVERED
from timetodo.streams import EVENT_MESSAGE_TYPE

USER = "8a4e0b7e-1c1f-4f0e-9d55-6b1c3a0f2d10"
OTHER_USER = "0f5f2a40-2b7d-4d7a-bb1e-3d9f6a1c7e22"
PROJECT = "5d7c1f0e-9b4a-4c2e-8f3d-2a6b7c8d9e01"
NOW = 1000.0
RECHECK_AFTER = 30.0


def event(seq: int, verb: str = Verb.TASK_UPDATED, target_id: str = "t-1") -> dict[str, Any]:
    return {"type": "event", "project": PROJECT, "seq": seq, "verb": verb, "target_id": target_id}


def removal(seq: int, user_id: str = USER) -> dict[str, Any]:
    return event(seq, Verb.MEMBER_REMOVED, target_id=user_id)


def subscription(seq: int = 4, checked_ago: float = 0.0) -> Subscription:
    return Subscription(seq=seq, checked_at=NOW - checked_ago)


def decision(sub: Subscription | None, frame: dict[str, Any], rechecked: bool = False) -> Decision:
    return decide(sub, frame, user_id=USER, now=NOW, recheck_after=RECHECK_AFTER, rechecked=rechecked)


# decide


def test_the_next_event_is_delivered() -> None:
    assert decision(subscription(seq=4), event(5)) is Decision.DELIVER


def test_an_event_of_a_project_not_followed_is_dropped() -> None:
    assert decision(None, event(1)) is Decision.DROP


@pytest.mark.parametrize("seq", [4, 3, 1])
def test_an_event_already_delivered_is_dropped(seq: int) -> None:
    assert decision(subscription(seq=4), event(seq)) is Decision.DROP


def test_a_copy_is_dropped_even_when_access_is_due_for_a_check() -> None:
    assert decision(subscription(seq=4, checked_ago=RECHECK_AFTER + 1), event(4)) is Decision.DROP


def test_an_event_beyond_the_next_refills_the_gap_first() -> None:
    assert decision(subscription(seq=4), event(7)) is Decision.REFILL


def test_access_older_than_the_recheck_age_is_checked_first() -> None:
    assert decision(subscription(seq=4, checked_ago=RECHECK_AFTER + 0.1), event(5)) is Decision.RECHECK
    assert decision(subscription(seq=4, checked_ago=RECHECK_AFTER), event(5)) is Decision.DELIVER  # (not yet)


def test_the_age_check_comes_before_a_refill() -> None:
    # Nothing from the log either before access is known to be current.
    assert decision(subscription(seq=4, checked_ago=RECHECK_AFTER + 1), event(9)) is Decision.RECHECK


def test_after_the_check_the_event_is_decided_on_its_position() -> None:
    stale = subscription(seq=4, checked_ago=RECHECK_AFTER + 1)
    assert decision(stale, event(5), rechecked=True) is Decision.DELIVER
    assert decision(stale, event(9), rechecked=True) is Decision.REFILL


def test_removing_this_very_user_is_a_reason_to_check_access() -> None:
    assert decision(subscription(seq=4), removal(5)) is Decision.RECHECK


def test_a_removal_checked_after_it_was_committed_is_delivered() -> None:
    # Still a member after the check: removed, then added again. History, not a revocation.
    assert decision(subscription(seq=4), removal(5), rechecked=True) is Decision.DELIVER


def test_removing_someone_else_is_just_an_event() -> None:
    assert decision(subscription(seq=4), removal(5, user_id=OTHER_USER)) is Decision.DELIVER
    assert decision(subscription(seq=4), event(5, Verb.MEMBER_UPDATED, target_id=USER)) is Decision.DELIVER


def test_a_removal_of_this_user_waits_for_the_events_before_it() -> None:
    # Re-checked when it is next in line: the events before it may re-add and remove again.
    assert decision(subscription(seq=4), removal(8)) is Decision.REFILL


# The hub's fast path carries the decision out


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        self.sent.append(text_data)

    async def send_json(self, content: Any, close: bool = False) -> None:
        self.sent.append(content)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.sent.append(("close", code))


def idle_feed(monkeypatch) -> tuple[Feed, FakeSocket]:
    socket = FakeSocket()
    feed = Feed(socket, hub=None, user_id=USER, busy=asyncio.Lock())  # type: ignore[arg-type]  # (no hub needed)
    feed.subscriptions[PROJECT] = subscription(seq=4)
    monkeypatch.setattr(feed, "enqueue", feed.inbox.append)  # (queued, not drained here)
    return feed, socket


def message(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": EVENT_MESSAGE_TYPE, "event": frame, "text": f"encoded {frame['seq']}"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("decided", "sent", "queued"),
    [
        (Decision.DELIVER, True, False),
        (Decision.DROP, False, False),
        (Decision.RECHECK, False, True),
        (Decision.REFILL, False, True),
    ],
)
async def test_an_idle_socket_acts_on_the_decision(monkeypatch, decided: Decision, sent: bool, queued: bool) -> None:
    monkeypatch.setattr(feed_module, "decide", lambda *args, **kwargs: decided)
    feed, socket = idle_feed(monkeypatch)
    before = DELIVERED["live"]._value.get()
    assert await feed.offer(message(event(5))) is sent
    assert socket.sent == (["encoded 5"] if sent else [])  # the pre-encoded frame, as published
    assert (len(feed.inbox) == 1) is queued
    assert feed.subscriptions[PROJECT].seq == (5 if sent else 4)
    await asyncio.sleep(0)  # (counted once per turn of the loop)
    assert DELIVERED["live"]._value.get() == before + (1 if sent else 0)


@pytest.mark.asyncio
async def test_a_busy_socket_queues_without_deciding(monkeypatch) -> None:
    monkeypatch.setattr(feed_module, "decide", lambda *args, **kwargs: pytest.fail("decided on a busy socket"))
    feed, socket = idle_feed(monkeypatch)
    async with feed.busy:
        assert await feed.offer(message(event(5))) is False
    assert socket.sent == []
    assert len(feed.inbox) == 1


# The queued path (Feed.handle) carries the decision out too


class FakeHub:
    def __init__(self) -> None:
        self.left: list[str] = []

    async def follow(self, stream: str, follower: Any) -> None:
        pass

    async def unfollow(self, stream: str, follower: Any) -> None:
        self.left.append(stream)

    async def unfollow_all(self, follower: Any) -> None:
        pass


def feed_with_log(monkeypatch, log: list[dict[str, Any]], member: bool = True) -> tuple[Feed, FakeSocket]:
    from tasks import selectors

    checks: list[str] = []

    def may_follow(*, user_id: str, project_id: str) -> bool:
        checks.append(project_id)
        return member

    def events_between(*, project_id: str, after: int, up_to: int) -> list[dict[str, Any]]:
        return [frame for frame in log if after < frame["seq"] <= up_to]

    def in_this_thread(function: Any) -> Any:
        async def call(**kwargs: Any) -> Any:
            return function(**kwargs)

        return call

    monkeypatch.setattr(selectors, "socket_may_follow", may_follow)
    monkeypatch.setattr(selectors, "events_between", events_between)
    monkeypatch.setattr(feed_module, "database_sync_to_async", in_this_thread)  # (no database here)
    monkeypatch.setattr(feed_module, "event_frame", lambda frame: frame)  # (the "log" holds frames already)
    socket = FakeSocket()
    feed = Feed(socket, hub=FakeHub(), user_id=USER, busy=asyncio.Lock())  # type: ignore[arg-type]
    feed.subscriptions[PROJECT] = subscription(seq=4)
    feed.checks = checks  # type: ignore[attr-defined]
    return feed, socket


@pytest.mark.asyncio
async def test_a_gap_is_refilled_from_the_log_before_the_event(monkeypatch) -> None:
    feed, socket = feed_with_log(monkeypatch, [event(5), event(6)])
    assert await feed.handle(event(7), path="live", text="encoded 7")
    assert socket.sent == [event(5), event(6), "encoded 7"]
    assert feed.subscriptions[PROJECT].seq == 7


@pytest.mark.asyncio
async def test_a_removal_then_re_add_is_delivered_after_one_check(monkeypatch) -> None:
    feed, socket = feed_with_log(monkeypatch, [], member=True)
    assert await feed.handle(removal(5), path="live")
    assert socket.sent == [removal(5)]
    assert feed.checks == [PROJECT]  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_removal_that_stands_ends_the_subscription_and_nothing_follows(monkeypatch) -> None:
    feed, socket = feed_with_log(monkeypatch, [], member=False)
    assert not await feed.handle(removal(5), path="live")
    assert not await feed.handle(event(6), path="live")
    assert socket.sent == [{"type": "unsubscribed", "project": PROJECT, "reason": "access_revoked"}]
    assert PROJECT not in feed.subscriptions


@pytest.mark.asyncio
async def test_a_gap_the_log_cannot_fill_asks_for_a_resync(monkeypatch) -> None:
    feed, socket = feed_with_log(monkeypatch, [event(6)])  # (seq 5 is not in the log)
    assert await feed.handle(event(7), path="live", text="encoded 7")
    assert socket.sent == [{"type": "resync_required", "project": PROJECT, "seq": 6}, "encoded 7"]
