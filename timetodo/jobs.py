"""The durable job queue: what must happen after a change, outside the request.

Jobs are Django Tasks (django-tasks, the backport of `django.tasks`) stored by its database
backend (django-tasks-db): enqueuing one inserts a row through the ORM, so a job enqueued
inside a service's transaction commits with the change that caused it, or not at all —
nothing is sent for a rolled-back change, and nothing is lost if the process dies after
the commit. `manage.py run_worker` (`timetodo.worker`) runs them.

Declare a job with `@job(...)`: its arguments must be JSON (ids, not model instances; the
job reads the current rows and checks again that what it is about to do is still allowed).
A job that raises is run again after an exponential back-off with full jitter, up to
`attempts` runs in all; then it stays failed, with its traceback, in the admin ("Task
Results").

    @job(attempts=8, base_seconds=30)
    def send_email(*, notification_id: str) -> None: ...

    send_email.enqueue(notification_id=str(notification.pk))   # inside the transaction
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string
from django_tasks import task

logger = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS  # runs in all, the first included
    base_seconds: float = 10.0  # the first pause's upper bound; it doubles with each failure
    cap_seconds: float = 3600.0  # no pause is longer

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """The pause after the `failures`-th failure: uniform between 0 and the exponential
        bound ("full jitter", so retries of many jobs failing together spread out)."""
        bound = min(self.cap_seconds, self.base_seconds * 2 ** max(failures - 1, 0))
        return (rng or random).uniform(0, bound)


# The retry policy of every declared job, by the task's module path (what its row stores).
POLICIES: dict[str, RetryPolicy] = {}


def job(
    *, attempts: int = DEFAULT_ATTEMPTS, base_seconds: float = 10.0, cap_seconds: float = 3600.0, priority: int = 0
) -> Callable[[Callable[..., Any]], Any]:
    """A durable job with its retry policy (see the module's docstring)."""
    if attempts < 1:
        raise ValueError("a job runs at least once")

    def declare(function: Callable[..., Any]) -> Any:
        declared = task(priority=priority)(function)
        POLICIES[declared.module_path] = RetryPolicy(attempts, base_seconds, cap_seconds)
        return declared

    return declare


def policy_of(task_path: str) -> RetryPolicy:
    """The policy the job at `task_path` was declared with (its module imported if it was
    not yet: a worker recovering jobs at start has run none of them), or the default."""
    if task_path not in POLICIES:
        try:
            import_string(task_path)
        except Exception as exc:  # (a module that fails to import must not stop the worker)
            logger.warning("the job %s cannot be imported (%s): the default retry policy applies", task_path, exc)
    return POLICIES.get(task_path, RetryPolicy())
