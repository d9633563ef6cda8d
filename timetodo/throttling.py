"""DRF throttles keyed by the client address as `timetodo.clientip` sees it.

DRF's own identification trusts all of X-Forwarded-For unless NUM_PROXIES is set, and
treats every IPv6 address on its own; a client usually holds a whole /64. These key by
the trusted client IP, with IPv6 grouped by /64 like the login limits.
"""

from __future__ import annotations

from typing import Any

from rest_framework import throttling

from timetodo.clientip import client_network


class ClientIdentMixin:
    def get_ident(self, request: Any) -> str:
        return client_network(request)


class AnonThrottle(ClientIdentMixin, throttling.AnonRateThrottle):
    pass


class UserThrottle(ClientIdentMixin, throttling.UserRateThrottle):
    pass


class ScopedThrottle(ClientIdentMixin, throttling.ScopedRateThrottle):
    pass
