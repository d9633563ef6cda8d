"""The Redis cache, kept usable while Redis is away.

Throttles and login limits count in the cache. With Django's RedisCache, a Redis outage
turns every API request into a 500 (the throttle's read raises). This backend catches
Redis connection errors and serves that operation from a local-memory cache instead: the
API keeps answering, and limits keep counting per process until Redis is back (then the
shared counts take over again). Each fallback is logged, at most once a minute.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
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

# A counter's INCR and, on its first count, its expiry: one command (EVALSHA) instead of a
# MULTI/SET NX EX/INCR/EXEC pipeline, whose building and four replies cost a throttled
# request some 40 us of CPU more (measured with redis-py 8 on this machine).
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
COUNT_SCRIPT_SHA = hashlib.sha1(COUNT_SCRIPT.encode(), usedforsecurity=False).hexdigest()  # (Redis names scripts so)


class ReusedClientRedisCacheClient(RedisCacheClient):
    """One connection pool and one `redis.Redis` per server for the whole process.

    Django keeps a cache object per request context under ASGI (its `caches` are
    context-local), and with it Django's client made a new connection pool, so every
    request opened a new TCP connection to Redis and paid the handshake; and it built a
    new `redis.Redis` for every operation, each filling a table of some 170 response
    callbacks. Both measured: a tenth of a 304's time each. Pools and clients are safe to
    share between threads (and a pool reconnects in a forked child), so they are kept here,
    keyed by the server and the options."""

    _shared: dict[tuple[str, str, Any, Any], tuple[Any, Any]] = {}
    _shared_lock = threading.Lock()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._found: dict[int, tuple[Any, Any]] = {}  # (server index: this object's lookups)

    def _get_connection_pool(self, write: bool) -> Any:
        return self._pool_and_client(write)[0]

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        return self._pool_and_client(write)[1]

    def _pool_and_client(self, write: bool) -> tuple[Any, Any]:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        found = self._found.get(index)
        if found is None:
            found = self._found[index] = self._shared_for(self._servers[index])  # type: ignore[attr-defined]
        return found

    def _shared_for(self, server: str) -> tuple[Any, Any]:
        options = repr(sorted(self._pool_options.items()))  # type: ignore[attr-defined]
        identity = (server, options, self._pool_class, self._client)  # type: ignore[attr-defined]
        with self._shared_lock:
            shared = self._shared.get(identity)
            if shared is None:
                pool = self._pool_class.from_url(server, **self._pool_options)  # type: ignore[attr-defined]
                shared = self._shared[identity] = (pool, self._client(connection_pool=pool))  # type: ignore[attr-defined]
        return shared


class ResilientRedisCache(RedisCache):
    # When an outage was last logged, for the whole process: Django makes a cache object per
    # request context, and a per-object time would log the outage on every request.
    warned_at = 0.0

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._fallback = LocMemCache("timetodo-redis-fallback", {"TIMEOUT": params.get("TIMEOUT", 300)})

    def count(self, key: str, timeout: int) -> int:
        """Add one to a counter that lives `timeout` seconds from its first count; the count.
        One command (COUNT_SCRIPT by its digest; the script is loaded once per Redis server,
        or again after a restart emptied its script cache), atomic across processes."""
        key = self.make_and_validate_key(key)
        try:
            client = self._cache.get_client(key, write=True)
            try:
                return int(client.evalsha(COUNT_SCRIPT_SHA, 1, key, timeout))
            except NoScriptError:
                return int(client.eval(COUNT_SCRIPT, 1, key, timeout))
        except UNAVAILABLE as exc:
            self._unavailable("count", exc)
            return count_in(self._fallback, key, timeout)

    def _unavailable(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - ResilientRedisCache.warned_at > 60:
            ResilientRedisCache.warned_at = now
            logger.error("Redis cache unavailable (%s: %s); using a per-process cache meanwhile", operation, exc)


def count_in(cache: Any, key: str, timeout: int) -> int:
    """`ResilientRedisCache.count` for any other cache (the local-memory one): add, else
    increment; a counter that expired between the two starts again."""
    if cache.add(key, 1, timeout):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:
        cache.add(key, 1, timeout)
        return 1


def count(cache: Any, key: str, timeout: int) -> int:
    """One more hit on a counter living `timeout` seconds from its first hit; the hits so far.
    (`cache` may be Django's `cache` proxy: the backend's own `count` is found through it.)"""
    counter = getattr(cache, "count", None)
    if callable(counter):
        return int(counter(key, timeout))
    return count_in(cache, key, timeout)


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
