"""DRF throttles keyed by the client address as `timetodo.clientip` sees it, counting in
fixed windows with one cache round trip.

DRF's own identification trusts all of X-Forwarded-For unless NUM_PROXIES is set, and
treats every IPv6 address on its own; a client usually holds a whole /64. These key by
the trusted client IP, with IPv6 grouped by /64 like the login limits.

DRF's SimpleRateThrottle keeps a list of timestamps per client: a read and a write of the
cache on every request (two Redis round trips, and two processes can overwrite each
other's count). These count each window of the rate (a minute for `1200/minute`) in one
atomic increment (timetodo.cache.count), as django-ratelimit does for logins.
"""

from __future__ import annotations

from typing import Any

from rest_framework import throttling

from timetodo.cache import count
from timetodo.clientip import client_network


class ClientIdentMixin:
    def get_ident(self, request: Any) -> str:
        return client_network(request)


class WindowRateThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's `allow_request`, counting fixed windows: at most `num_requests`
    per window of `duration` seconds. Last among a throttle's bases, below DRF's own (the
    scoped throttle sets its rate, then calls this)."""

    wait_seconds = 1.0
    num_requests: int  # (set by SimpleRateThrottle from the rate)
    duration: int

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.wait_seconds = self.duration - (now - window * self.duration)
        return count(self.cache, f"{self.key}:{window}", self.duration + 1) <= self.num_requests

    def wait(self) -> float:
        return max(self.wait_seconds, 1.0)


class AnonThrottle(ClientIdentMixin, throttling.AnonRateThrottle, WindowRateThrottle):
    pass


class UserThrottle(ClientIdentMixin, throttling.UserRateThrottle, WindowRateThrottle):
    pass


class ScopedThrottle(ClientIdentMixin, throttling.ScopedRateThrottle, WindowRateThrottle):
    pass
