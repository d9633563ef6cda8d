"""Login guessing protection with django-ratelimit: per client IP and per account.

Every attempt counts, right or wrong, so a correct password during a lockout is refused
too. Counters live in the default cache (Redis in production, shared by all instances).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django_ratelimit.core import get_usage

from accounts.models import User
from accounts.selectors import user_find_for_login

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


def limit_login_attempts(
    view: Callable[..., HttpResponseBase],
    *,
    refused: Callable[[HttpRequest, int], HttpResponseBase] | None = None,
) -> Callable[..., HttpResponseBase]:
    """The same limits for the HTML login forms (admin, browsable API, web app) as for the API.
    `refused(request, wait)` draws the 429 (the web app's own page); plain text otherwise."""

    @wraps(view)
    def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            waits = [login_attempt_from_ip(request)]
            username = str(request.POST.get("username", ""))[:254]
            if username:
                account = user_find_for_login(username=username)
                waits.append(login_attempt_on_account(request, user=account, identifier=username))
            wait = max((w for w in waits if w is not None), default=None)
            if wait is not None:
                if refused is not None:
                    response = refused(request, wait)
                else:
                    response = HttpResponse(
                        f"Too many login attempts. Try again in {wait} seconds.", status=429, content_type="text/plain"
                    )
                response.status_code = 429
                response["Retry-After"] = str(wait)
                return response
        return view(request, *args, **kwargs)

    return limited
