"""Login guessing protection (django-ratelimit) and the API's DRF throttles."""

from __future__ import annotations

import os

import django_ratelimit.core
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User
from tests.conftest import requires_redis
from tests.factories import DEFAULT_PASSWORD, UserFactory
from timetodo.throttling import WindowRateThrottle

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"


class FrozenClock:
    """Stands in for the `time` module inside django_ratelimit: time moves only when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(django_ratelimit.core, "time", frozen)
    return frozen


def attempt(ip: str = "203.0.113.7", password: str = "wrong-password", **identity: str) -> int:
    client = APIClient(REMOTE_ADDR=ip)
    response = client.post(LOGIN, {"password": password, **identity}, format="json")
    return response.status_code


def test_sixth_attempt_from_one_ip_is_429_even_with_the_right_password(clock: FrozenClock) -> None:
    users = UserFactory.create_batch(6)
    for user in users[:5]:
        assert attempt(username=user.username) == 401
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    response = client.post(LOGIN, {"username": users[5].username, "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "detail" in response.json()
    # Another client is not affected.
    assert attempt(ip="198.51.100.1", username=users[5].username, password=DEFAULT_PASSWORD) == 200


def test_sixth_attempt_against_one_account_from_any_ip_is_429(clock: FrozenClock, user: User) -> None:
    for n in range(5):
        assert attempt(ip=f"198.51.100.{n + 1}", email=user.email) == 401
    # Same account named differently (username, other case) from yet another IP.
    assert attempt(ip="192.0.2.50", username=user.username.upper(), password=DEFAULT_PASSWORD) == 429
    # Other accounts can still log in from those IPs.
    other = UserFactory.create()
    assert attempt(ip="198.51.100.1", username=other.username, password=DEFAULT_PASSWORD) == 200


def test_unknown_accounts_are_limited_too(clock: FrozenClock) -> None:
    for n in range(5):
        assert attempt(ip=f"198.51.100.{n + 1}", email="ghost@example.com") == 401
    assert attempt(ip="192.0.2.9", email="GHOST@example.com") == 429


def test_the_limit_resets_after_the_window(clock: FrozenClock, user: User) -> None:
    for _ in range(5):
        assert attempt(username=user.username) == 401
    assert attempt(username=user.username, password=DEFAULT_PASSWORD) == 429
    clock.advance(61)
    assert attempt(username=user.username, password=DEFAULT_PASSWORD) == 200


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(clock: FrozenClock, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    users = UserFactory.create_batch(6)
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    codes = [
        client.post(
            LOGIN,
            {"username": u.username, "password": "wrong-password"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        ).status_code
        for n, u in enumerate(users)
    ]
    assert codes == [401] * 5 + [429]


def test_with_one_trusted_proxy_the_client_is_the_hop_it_appended(clock: FrozenClock, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    users = UserFactory.create_batch(7)
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")  # every request arrives from the load balancer

    def via_proxy(user: User, forwarded: str) -> int:
        body = {"username": user.username, "password": "wrong-password"}
        return proxy.post(LOGIN, body, format="json", HTTP_X_FORWARDED_FOR=forwarded).status_code

    # A client forging earlier hops gains nothing: the appended hop is what counts.
    codes = [via_proxy(u, f"6.6.6.{n}, 203.0.113.9") for n, u in enumerate(users[:6])]
    assert codes == [401] * 5 + [429]
    # A different real client behind the same proxy has its own counter.
    assert via_proxy(users[6], "198.51.100.20") == 401


def test_drf_throttles_limit_the_rest_of_the_api_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "3/minute"})
    client = APIClient()
    codes = [client.post("/api/v1/auth/refresh/", {}, format="json").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    response = client.post("/api/v1/auth/refresh/", {}, format="json")
    assert int(response["Retry-After"]) > 0


def test_authenticated_users_are_throttled_by_the_user_rate(
    monkeypatch: pytest.MonkeyPatch, auth_client: APIClient
) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100/minute", "user": "2/minute"})
    codes = [auth_client.get("/api/v1/auth/me/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@requires_redis
def test_login_counters_live_in_redis_when_it_is_configured(clock: FrozenClock, user: User) -> None:
    import redis

    assert django_settings.CACHES["default"]["BACKEND"] == "timetodo.cache.ResilientRedisCache"
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    before = set(client.keys("*rl:*"))
    attempt(username=user.username)
    after = set(client.keys("*rl:*"))
    assert len(after - before) == 2  # one counter per client IP, one per account


def test_the_user_rate_counts_fixed_windows_and_says_when_the_next_begins(
    monkeypatch: pytest.MonkeyPatch, auth_client: APIClient
) -> None:
    frozen = FrozenClock()
    frozen.now = 1_800_000_000.0 - 15  # 45 s into a minute
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100/minute", "user": "2/minute"})
    monkeypatch.setattr(WindowRateThrottle, "timer", staticmethod(frozen.time))
    codes = [auth_client.get("/api/v1/auth/me/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = auth_client.get("/api/v1/auth/me/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "15"  # (when this minute's window ends)
    frozen.advance(15)
    assert auth_client.get("/api/v1/auth/me/").status_code == 200


def test_a_counter_is_one_atomic_increment_and_expires_with_its_window() -> None:
    from django.core.cache import cache

    from timetodo.cache import count

    key = f"test-count:{os.getpid()}"
    assert [count(cache, key, 60) for _ in range(3)] == [1, 2, 3]
    cache.delete(key)
    assert count(cache, key, 60) == 1


@requires_redis
def test_a_counter_still_counts_after_redis_forgot_its_script() -> None:
    """Counted by a Lua script called by its digest: a restarted Redis has no scripts."""
    import redis
    from django.core.cache import cache

    from timetodo.cache import count

    key = f"test-count-flushed:{os.getpid()}"
    assert count(cache, key, 60) == 1
    redis.Redis.from_url(os.environ["REDIS_URL"]).script_flush()
    assert count(cache, key, 60) == 2
    assert count(cache, key, 60) == 3
    cache.delete(key)


@requires_redis
def test_api_counters_live_in_redis_with_their_window_as_expiry(
    monkeypatch: pytest.MonkeyPatch, auth_client: APIClient
) -> None:
    import redis

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100/minute", "user": "100/minute"})
    monkeypatch.setattr(WindowRateThrottle, "timer", staticmethod(FrozenClock().time))  # (one window)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    before = set(client.keys("*throttle_user*"))
    assert auth_client.get("/api/v1/auth/me/").status_code == 200
    assert auth_client.get("/api/v1/auth/me/").status_code == 200
    (key,) = set(client.keys("*throttle_user*")) - before
    # Counted by the Redis backend's one round trip, found through Django's cache proxy.
    from timetodo.cache import ResilientRedisCache

    calls = []
    counting = ResilientRedisCache.count

    def spied(self: ResilientRedisCache, *args: object) -> int:
        calls.append(args)
        return counting(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ResilientRedisCache, "count", spied)
    assert auth_client.get("/api/v1/auth/me/").status_code == 200
    assert len(calls) == 1
    assert int(client.get(key) or 0) == 3
    assert 0 < client.ttl(key) <= 61


@requires_redis
def test_cache_objects_of_every_request_share_one_connection_to_redis() -> None:
    # Django keeps a cache object per request context under ASGI: each one must not open
    # its own connection (a TCP connect and a handshake per request).
    from timetodo.cache import ResilientRedisCache

    params = {"OPTIONS": {"socket_connect_timeout": 2}}
    first = ResilientRedisCache(os.environ["REDIS_URL"], params)
    second = ResilientRedisCache(os.environ["REDIS_URL"], params)
    first.set("test-shared-pool", 1)
    assert second.get("test-shared-pool") == 1
    pool = first._cache._get_connection_pool(True)  # type: ignore[attr-defined]
    assert second._cache._get_connection_pool(False) is pool  # type: ignore[attr-defined]
    assert second._cache.get_client(write=True) is first._cache.get_client()
    created = pool._created_connections
    for _ in range(20):
        ResilientRedisCache(os.environ["REDIS_URL"], params).count("test-shared-pool-count", 60)
    assert pool._created_connections == created  # no new connection for new cache objects
    other = ResilientRedisCache(os.environ["REDIS_URL"], {"OPTIONS": {"socket_connect_timeout": 3}})
    assert other._cache._get_connection_pool(True) is not pool  # type: ignore[attr-defined]  # other options, its own pool
    first.delete_many(["test-shared-pool", "test-shared-pool-count"])
