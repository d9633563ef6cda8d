"""The domain's pure rules: no queries, no side effects, one place for each.

Serializers check them on input for an early 400, services again on the state they hold
under the project lock (the authority). Each raises a domain error naming the field.
"""

from __future__ import annotations

import datetime
from typing import Any

from timetodo.errors import Conflict, Invalid

# Work in progress


def check_wip(*, name: str, wip_limit: int | None, holding: int, incoming: int = 1) -> None:
    """A column at its WIP limit takes no more tasks (moving within it is no addition)."""
    if wip_limit is not None and holding + incoming > wip_limit:
        raise Conflict(f"Column '{name}' is at its WIP limit of {wip_limit}.")


def check_wip_limit_fits(*, wip_limit: int | None, holding: int) -> None:
    """A column's new limit cannot be below what it already holds."""
    if wip_limit is not None and holding > wip_limit:
        raise Invalid({"wip_limit": [f"The column already holds {holding} tasks."]})


# Sprints

MAX_SPRINT_DAYS = 366


def check_sprint_dates(start: datetime.date | None, end: datetime.date | None) -> None:
    if start and end and end < start:
        raise Invalid({"end_date": ["The end date is before the start date."]})
    if start and end and (end - start).days >= MAX_SPRINT_DAYS:
        raise Invalid({"end_date": [f"A sprint lasts at most {MAX_SPRINT_DAYS} days."]})


def check_sprint_dates_movable(*, status: str, moving: bool) -> None:
    if moving and status != "planned":
        raise Conflict("A started sprint keeps its dates (its burndown and velocity depend on them).")


def check_sprint_may_start(*, status: str, another_active: bool, dated: bool) -> None:
    if status != "planned":
        raise Conflict(f"Only a planned sprint can start; this one is {status}.")
    if another_active:
        raise Conflict("The project already has an active sprint: complete it first.")
    if not dated:
        raise Invalid({"start_date": ["Set the sprint's start and end dates before starting it."]})


def check_sprint_may_complete(*, status: str) -> None:
    if status != "active":
        raise Conflict(f"Only the active sprint can be completed; this one is {status}.")


# Time entries and timers

MAX_ENTRY_MINUTES = 24 * 60
MAX_SPAN = datetime.timedelta(minutes=MAX_ENTRY_MINUTES)
CLOCK_SKEW = datetime.timedelta(minutes=5)
EARLIEST = datetime.timedelta(days=366 * 5)
# A running timer counts up to now, and at most what stopping it would record.
RUNNING_CAP_MINUTES = MAX_ENTRY_MINUTES


def check_entry_start(started_at: datetime.datetime, *, now: datetime.datetime, running: bool = False) -> None:
    """Before any date arithmetic: not in the future, not absurdly far back (a running
    timer: within its 24 hours)."""
    if started_at > now + CLOCK_SKEW:
        raise Invalid({"started_at": ["An entry cannot start in the future."]})
    if started_at < now - (MAX_SPAN if running else EARLIEST):
        limit = "24 hours" if running else "5 years"
        raise Invalid({"started_at": [f"That start is more than {limit} ago."]})


def entry_minutes(started_at: datetime.datetime, ended_at: datetime.datetime, *, now: datetime.datetime) -> int:
    """Whole minutes of a valid entry: ends after it starts, within 24 h, not in the future."""
    if started_at > now + CLOCK_SKEW:
        raise Invalid({"started_at": ["An entry cannot start in the future."]})
    if ended_at <= started_at:
        raise Invalid({"ended_at": ["The end must be after the start."]})
    if ended_at - started_at > MAX_SPAN:
        raise Invalid({"ended_at": ["An entry lasts at most 24 hours."]})
    if ended_at > now + CLOCK_SKEW:
        raise Invalid({"ended_at": ["An entry cannot end in the future."]})
    return int((ended_at - started_at).total_seconds() // 60)


def timer_end(started_at: datetime.datetime, *, now: datetime.datetime) -> datetime.datetime:
    """When a timer stopped now ends: at most 24 hours after it started, at least a second."""
    return max(min(now, started_at + MAX_SPAN), started_at + datetime.timedelta(seconds=1))


def elapsed_minutes(started_at: datetime.datetime, until: datetime.datetime) -> int:
    """Whole minutes a timer has run until `until`, capped as stopping it would be."""
    return min(RUNNING_CAP_MINUTES, max(0, int((until - started_at).total_seconds() // 60)))


def either_end_or_minutes(values: dict[str, Any], *, required: bool) -> None:
    """An entry is given its end or its length, never both (and on creation, one of them)."""
    given = ("ended_at" in values) + ("minutes" in values)
    if given == 2 or (required and given == 0):
        raise Invalid({"ended_at": ["Give either ended_at or minutes."]})
