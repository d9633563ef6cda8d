"""Login guessing protection with django-ratelimit: per client IP and per account.

Every attempt counts, right or wrong, so a correct password during a lockout is refused
too. Counters live in the default cache (Redis in production, shared by all instances).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from accounts.models import User

IP_GROUP = "accounts.login.ip"
ACCOUNT_GROUP = "accounts.login.account"


def _count(request: HttpRequest, group: str, key: object) -> int | None:
    """Counts one attempt; the seconds until the window ends if this one is over the limit."""
    usage = get_usage(request, group=group, key=key, rate=settings.LOGIN_RATE, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def login_attempt_from_ip(request: HttpRequest) -> int | None:
    return _count(request, IP_GROUP, "ip")


def login_attempt_on_account(request: HttpRequest, *, user: User | None, identifier: str) -> int | None:
    """Attempts against one account from anywhere; unknown names are counted by name."""
    value = f"user:{user.pk}" if user is not None else f"name:{identifier.strip().lower()}"
    return _count(request, ACCOUNT_GROUP, lambda group, request: value)
