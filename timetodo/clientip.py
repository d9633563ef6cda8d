"""The client's IP address, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT says.

Render's load balancer appends the address it saw to X-Forwarded-For, so with one trusted
proxy the client is the last entry; anything a client wrote into the header itself comes
before that and is ignored. With no trusted proxy the header is ignored entirely. This is
the same rule DRF applies with NUM_PROXIES, so throttles and login limits agree.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# Stands in when the server gives no peer address (a Unix socket): such clients share one bucket.
UNKNOWN_CLIENT = "0.0.0.0"  # noqa: S104 (an identifier here, not a bind address)


def client_network(request: HttpRequest) -> str:
    """The client IP, with IPv6 reduced to its /64 (one client usually holds a whole /64)."""
    address = ipaddress.ip_address(client_ip(request))
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def client_ip(request: HttpRequest) -> str:
    remote = _valid(str(request.META.get("REMOTE_ADDR") or "")) or UNKNOWN_CLIENT
    trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if trusted <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in str(forwarded).split(",") if hop.strip()]
    if not hops:
        return remote
    return _valid(hops[-min(trusted, len(hops))]) or remote


def _valid(candidate: str) -> str | None:
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
