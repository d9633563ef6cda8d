"""The Redis cache, kept usable while Redis is away.

Throttles and login limits count in the cache. With Django's RedisCache, a Redis outage
turns every API request into a 500 (the throttle's read raises). This backend catches
Redis connection errors and serves that operation from a local-memory cache instead: the
API keeps answering, and limits keep counting per process until Redis is back (then the
shared counts take over again). Each fallback is logged, at most once a minute.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# (OSError covers the builtin ConnectionError and TimeoutError)
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
FALLBACK_OPERATIONS = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",  # (BaseCache.decr calls incr)
    "set_many",
    "delete_many",
    "clear",
)


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._fallback = LocMemCache("timetodo-redis-fallback", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._last_warning = 0.0

    def _unavailable(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            logger.error("Redis cache unavailable (%s: %s); using a per-process cache meanwhile", operation, exc)


def _resilient(operation: str) -> Any:
    redis_operation = getattr(RedisCache, operation)

    def method(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
        try:
            return redis_operation(self, *args, **kwargs)
        except UNAVAILABLE as exc:
            self._unavailable(operation, exc)
            return getattr(self._fallback, operation)(*args, **kwargs)

    method.__name__ = operation
    method.__doc__ = redis_operation.__doc__
    return method


for _operation in FALLBACK_OPERATIONS:
    setattr(ResilientRedisCache, _operation, _resilient(_operation))
