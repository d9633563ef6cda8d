"""Settings from environment variables: the one helper `settings.py` reads through.

Every function takes the environment as a mapping so tests can feed it any values
without reloading Django settings.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}

# Render's `generateValue` yields 44 base64 characters (256 bits). Django's own W009 asks
# for 50; we accept anything at least as strong as Render's and refuse the rest.
SECRET_KEY_MIN_LENGTH = 40
SECRET_KEY_MIN_UNIQUE = 10


class Env:
    """Typed reads of environment variables, with a clear error naming a bad variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default).strip()

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.environ.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in TRUE_VALUES:
            return True
        if value in FALSE_VALUES:
            return False
        raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}.")

    def number(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
        if value < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
        if maximum is not None and value > maximum:
            raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}.")
        return value

    def items(self, name: str, default: list[str] | None = None) -> list[str]:
        raw = self.environ.get(name)
        if raw is None:
            return list(default or [])
        return [item.strip() for item in raw.split(",") if item.strip()]


def ws_heartbeat_seconds(env: Env) -> int:
    """Announced in `hello` (settings) and Daphne's --ping-interval (timetodo.serve)."""
    return env.number("WS_HEARTBEAT_SECONDS", 20, minimum=5)


def throttle_rate(env: Env, name: str, default: str) -> str:
    """A DRF rate: `<count>/<second|minute|hour|day>` (only the first letter counts)."""
    value = env.text(name, default)
    if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(
            f"{name} must look like 100/minute (per second, minute, hour or day), not {value!r}."
        )
    return value


def login_rate(env: Env, name: str, default: str) -> str:
    """A django-ratelimit rate: `<count>/<n?><s|m|h|d>`, e.g. 5/m or 10/5m."""
    value = env.text(name, default)
    if not re.fullmatch(r"\d+/\d*[smhd]", value):
        raise ImproperlyConfigured(f"{name} must look like 5/m (count per s, m, h or d), not {value!r}.")
    return value


def is_weak_secret(key: str) -> bool:
    return (
        len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE or key.startswith("django-insecure-")
    )


WEAK_SECRET_KEY = (
    "SECRET_KEY is missing or weak: with DEBUG off, set the SECRET_KEY environment "
    f"variable to a random string of at least {SECRET_KEY_MIN_LENGTH} characters "
    "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
)


def secret_key(env: Env, *, debug: bool) -> str:
    """The configured key; without one, a throwaway (DEBUG) or a random key for this process
    only — which the server refuses to start with (see secret_key_problem)."""
    key = env.text("SECRET_KEY")
    if key:
        return key
    return "debug-only-throwaway-key-not-for-production-use-0123456789" if debug else secrets.token_urlsafe(50)


def secret_key_problem(key: str, *, debug: bool) -> str | None:
    """Why this key must not serve requests, or None. Checked where a key matters — the
    server's startup (asgi.py) and `check --deploy` — not on every settings import, so
    offline commands (makemigrations, collectstatic) run without one, as in Django."""
    if not debug and is_weak_secret(key):
        return WEAK_SECRET_KEY
    return None


def databases(env: Env, *, base_dir: Path) -> dict[str, dict[str, Any]]:
    """SQLite file by default; PostgreSQL (psycopg 3, native pool) when DATABASE_URL is set."""
    url = env.text("DATABASE_URL")
    if not url:
        return {"default": sqlite_database(str(base_dir / "db.sqlite3"))}
    try:
        parsed: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL could not be parsed: {exc}") from None
    engine = parsed["ENGINE"]
    if engine.endswith("sqlite3"):
        return {"default": sqlite_database(parsed["NAME"])}
    if not engine.endswith("postgresql"):
        raise ImproperlyConfigured(
            "DATABASE_URL must be a postgres:// (or sqlite://) URL; other databases are not supported."
        )
    min_size = env.number("DATABASE_POOL_MIN_SIZE", 2, minimum=0)
    max_size = env.number("DATABASE_POOL_MAX_SIZE", 10, minimum=1)
    if min_size > max_size:
        raise ImproperlyConfigured("DATABASE_POOL_MIN_SIZE must not exceed DATABASE_POOL_MAX_SIZE.")
    options = dict(parsed.get("OPTIONS") or {})
    options.setdefault("connect_timeout", env.number("DATABASE_CONNECT_TIMEOUT", 5, minimum=1))
    # Prepared statements for the compiled queries' cursors (timetodo.db.postgresql): a query
    # is prepared on a connection at its 5th run. Django's own cursors bind on the client
    # and never prepare.
    options.setdefault("prepare_threshold", 5)
    options["pool"] = {
        "min_size": min_size,
        "max_size": max_size,
        # Seconds a request waits for a free connection before failing loudly.
        "timeout": env.number("DATABASE_POOL_TIMEOUT", 10, minimum=1),
    }
    parsed.update(
        ENGINE="timetodo.db.postgresql",
        OPTIONS=options,
        # The pool owns connection lifetime: Django refuses persistent connections beside it
        # (and they are unsafe under ASGI anyway).
        CONN_MAX_AGE=0,
        # With a pool this makes psycopg check a connection before handing it out, so a
        # database restart costs a reconnect, not failed requests.
        CONN_HEALTH_CHECKS=True,
    )
    return {"default": parsed}


def sqlite_database(name: str) -> dict[str, Any]:
    return {
        "ENGINE": "django_prometheus.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            # Writers queue (BEGIN IMMEDIATE + busy timeout) instead of failing with
            # "database is locked"; WAL lets readers run beside one writer.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        },
    }


def channel_layers(env: Env) -> dict[str, dict[str, Any]]:
    url = env.text("REDIS_URL")
    if not url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    kind = env.text("CHANNEL_LAYER", "pubsub").lower()
    if kind == "pubsub":
        return {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [url], "prefix": env.text("CHANNEL_LAYER_PREFIX", "timetodo")},
            }
        }
    if kind != "core":
        raise ImproperlyConfigured(f"CHANNEL_LAYER must be core or pubsub, not {kind!r}.")
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [url],
                "prefix": env.text("CHANNEL_LAYER_PREFIX", "timetodo"),
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }


def file_storage(env: Env) -> dict[str, Any]:
    """Where uploaded files go: MEDIA_ROOT, or an S3-compatible bucket when S3_BUCKET is set
    (AWS, or any S3 API — MinIO, R2 — at S3_ENDPOINT_URL). The app reads and streams every
    file itself (downloads check the caller's role each time), so objects stay private and
    no signed URL is handed out."""
    bucket = env.text("S3_BUCKET")
    if not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "default_acl": None,
        "querystring_auth": False,
        "file_overwrite": False,
        "location": env.text("S3_PREFIX"),
    }
    for option, variable in (
        ("endpoint_url", "S3_ENDPOINT_URL"),
        ("region_name", "S3_REGION"),
        ("access_key", "S3_ACCESS_KEY_ID"),
        ("secret_key", "S3_SECRET_ACCESS_KEY"),
    ):
        value = env.text(variable)
        if value:
            options[option] = value
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


def caches(env: Env) -> dict[str, dict[str, Any]]:
    url = env.text("REDIS_URL")
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "timetodo"}}
    return {
        "default": {
            "BACKEND": "timetodo.cache.ResilientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": env.text("CACHE_KEY_PREFIX", "timetodo"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }


def logging_config(env: Env) -> dict[str, Any]:
    level = env.text("LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}.")
    log_format = env.text("LOG_FORMAT", "text").lower()
    if log_format not in {"text", "json"}:
        raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {log_format!r}.")
    handlers: dict[str, dict[str, Any]] = {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": log_format,
            "filters": ["request_id"],
        }
    }
    log_file = env.text("LOG_FILE")
    if log_file:
        handlers["file"] = {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": log_file,
            "formatter": log_format,
            "filters": ["request_id"],
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "timetodo.logs.RequestIdFilter"}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level},
        "loggers": {
            # Django's own request logger repeats what our request log line says.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
        },
    }


def drain_seconds(env: Env) -> int:
    """How long a stopping web process lets in-flight requests finish (timetodo.webserver).

    Inside the platform's own grace: Render kills a container 30 s after SIGTERM unless
    render.yaml's `maxShutdownDelaySeconds` says otherwise; the launcher kills a worker that
    is still draining DRAIN_SECONDS + 5 s after it asked it to stop.
    """
    return env.number("DRAIN_SECONDS", 20, minimum=1, maximum=290)
