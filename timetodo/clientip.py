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


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR") or "")
    trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if trusted <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in str(forwarded).split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-min(trusted, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
