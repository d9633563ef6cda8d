"""Settings come from environment variables alone, with embedded defaults (README "Configuration")."""

from __future__ import annotations

import json
import logging
import logging.config
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from timetodo import config

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k7Q2vR9xT4mW8nB3pL6sD1fH5jG0aZcYeUiOqXwE"  # 40 chars, Render-like strength
RENDER_GENERATED_KEY = "3q2+7w8Jd0l5mN9pQr4sT6uV1xY2zA3bC4dE5fG6hI8="  # 44 base64 chars = 256 bits


def env(**values: str) -> config.Env:
    return config.Env(values)


def test_embedded_default_database_is_a_sqlite_file_with_wal_and_immediate_transactions(tmp_path: Path) -> None:
    db = config.databases(env(), base_dir=tmp_path)["default"]
    assert db["ENGINE"].endswith("sqlite3")
    assert db["NAME"] == str(tmp_path / "db.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_postgres_url_is_parsed_with_the_native_pool(tmp_path: Path) -> None:
    db = config.databases(
        env(
            DATABASE_URL="postgres://app:s3cret@db.internal:6543/timetodo",
            DATABASE_POOL_MIN_SIZE="3",
            DATABASE_POOL_MAX_SIZE="12",
        ),
        base_dir=tmp_path,
    )["default"]
    assert db["ENGINE"].endswith("postgresql")
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "timetodo",
        "app",
        "s3cret",
        "db.internal",
        6543,
    )
    assert db["OPTIONS"]["pool"]["min_size"] == 3
    assert db["OPTIONS"]["pool"]["max_size"] == 12
    assert db["OPTIONS"]["pool"]["timeout"] > 0
    assert db["CONN_MAX_AGE"] == 0  # the pool owns connections; required by Django with a pool
    assert db["CONN_HEALTH_CHECKS"] is True  # the pool checks a connection before lending it
    # The compiled queries are prepared once per connection (planning a page of the task
    # list cost more than running it); Django's own queries bind on the client.
    assert db["OPTIONS"]["prepare_threshold"] == 5
    assert "server_side_binding" not in db["OPTIONS"]


def test_postgres_url_query_options_are_kept(tmp_path: Path) -> None:
    db = config.databases(env(DATABASE_URL="postgresql://u@h/d?sslmode=require"), base_dir=tmp_path)["default"]
    assert db["OPTIONS"]["sslmode"] == "require"
    assert db["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 10, "timeout": 10}


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DATABASE_URL": "mysql://u@h/d"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@h/d", "DATABASE_POOL_MAX_SIZE": "many"}, "DATABASE_POOL_MAX_SIZE"),
        ({"DATABASE_URL": "postgres://u@h/d", "DATABASE_POOL_MIN_SIZE": "5", "DATABASE_POOL_MAX_SIZE": "2"}, "MIN"),
        ({"DATABASE_URL": "postgres://u@h/d", "DATABASE_POOL_MAX_SIZE": "0"}, "DATABASE_POOL_MAX_SIZE"),
    ],
)
def test_bad_database_settings_are_refused_naming_the_variable(tmp_path: Path, variables, named) -> None:
    with pytest.raises(ImproperlyConfigured, match=named):
        config.databases(env(**variables), base_dir=tmp_path)


def test_sqlite_url_is_accepted(tmp_path: Path) -> None:
    db = config.databases(env(DATABASE_URL=f"sqlite:///{tmp_path}/x.db"), base_dir=tmp_path)["default"]
    assert db["NAME"] == f"{tmp_path}/x.db"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_without_redis_the_layer_is_in_memory_and_the_cache_local() -> None:
    assert config.channel_layers(env())["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert config.caches(env())["default"]["BACKEND"].endswith("LocMemCache")


def test_redis_url_switches_layer_and_cache() -> None:
    url = "rediss://:pw@redis.internal:6380/1"
    layer = config.channel_layers(env(REDIS_URL=url))["default"]
    cache = config.caches(env(REDIS_URL=url))["default"]
    assert layer["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert layer["CONFIG"]["hosts"] == [url]
    core = config.channel_layers(env(REDIS_URL=url, CHANNEL_LAYER="core"))["default"]
    assert core["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    with pytest.raises(ImproperlyConfigured, match="CHANNEL_LAYER"):
        config.channel_layers(env(REDIS_URL=url, CHANNEL_LAYER="carrier-pigeon"))
    assert cache["BACKEND"] == "timetodo.cache.ResilientRedisCache"
    assert cache["LOCATION"] == url


@pytest.mark.parametrize("key", ["", "short", "a" * 60, "django-insecure-" + "x1y2z3w4v5u6t7s8r9q0" * 3])
def test_missing_or_weak_secret_is_a_problem_when_debug_is_off(key: str) -> None:
    problem = config.secret_key_problem(key, debug=False)
    assert problem is not None
    assert problem.startswith("SECRET_KEY is missing or weak")


@pytest.mark.parametrize("key", [STRONG_KEY, RENDER_GENERATED_KEY])
def test_strong_secret_is_used(key: str) -> None:
    assert config.secret_key(env(SECRET_KEY=key), debug=False) == key
    assert config.secret_key_problem(key, debug=False) is None


def test_debug_allows_a_throwaway_key() -> None:
    assert config.secret_key(env(), debug=True)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("True", True), ("on", True), ("0", False), ("no", False)])
def test_booleans(raw: str, expected: bool) -> None:
    assert env(DEBUG=raw).flag("DEBUG") is expected


def test_a_bad_boolean_is_refused_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env(DEBUG="maybe").flag("DEBUG")


def test_lists_are_comma_separated() -> None:
    assert env(ALLOWED_HOSTS=" a.example.com, b.example.com ,,").items("ALLOWED_HOSTS") == [
        "a.example.com",
        "b.example.com",
    ]


def test_logging_text_json_and_file(tmp_path: Path) -> None:
    text = config.logging_config(env())
    assert text["handlers"]["stdout"]["formatter"] == "text"
    assert "file" not in text["handlers"]
    log_file = tmp_path / "app.log"
    as_json = config.logging_config(env(LOG_FORMAT="json", LOG_FILE=str(log_file), LOG_LEVEL="warning"))
    assert as_json["handlers"]["stdout"]["formatter"] == "json"
    assert as_json["handlers"]["file"]["filename"] == str(log_file)
    assert as_json["root"] == {"handlers": ["stdout", "file"], "level": "WARNING"}


@pytest.mark.parametrize("variables", [{"LOG_FORMAT": "xml"}, {"LOG_LEVEL": "LOUD"}])
def test_bad_logging_settings_are_refused(variables) -> None:
    with pytest.raises(ImproperlyConfigured):
        config.logging_config(env(**variables))


def test_json_log_lines_carry_the_request_id(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    conf = config.logging_config(env(LOG_FORMAT="json", LOG_FILE=str(log_file)))
    conf["root"]["handlers"] = ["file"]
    conf["handlers"].pop("stdout")
    logging.config.dictConfig(conf)
    try:
        from timetodo.logs import request_id_var

        token = request_id_var.set("req-123")
        logging.getLogger("timetodo.test").warning("hello %s", "world")
        request_id_var.reset(token)
        line = log_file.read_text().strip().splitlines()[-1]
    finally:
        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)
    record = json.loads(line)
    assert record["message"] == "hello world"
    assert record["request_id"] == "req-123"
    assert record["level"] == "WARNING"


def run_manage(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///:memory:"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("key", [None, "weak"])
def test_the_server_refuses_to_start_with_a_missing_or_weak_secret_in_one_sentence(key: str | None) -> None:
    variables = {"PATH": "/usr/bin:/bin", "DEBUG": "0", "DATABASE_URL": "sqlite:///:memory:"}
    variables |= {"SECRET_KEY": key} if key else {}
    result = subprocess.run(
        [sys.executable, "-m", "daphne", "-p", "0", "timetodo.asgi:application"],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("Time to DO cannot start: SECRET_KEY is missing or weak")
    assert "SECRET_KEY environment variable" in result.stderr


@pytest.mark.parametrize("key", [None, "weak"])
def test_check_deploy_fails_on_a_missing_or_weak_secret(key: str | None) -> None:
    result = run_manage("check", "--deploy", DEBUG="0", **({"SECRET_KEY": key} if key else {}))
    assert result.returncode != 0
    assert "timetodo.E001" in result.stderr
    assert "SECRET_KEY is missing or weak" in result.stderr


def test_offline_commands_run_without_any_configuration() -> None:
    """A fresh clone: `manage.py makemigrations --check` needs no SECRET_KEY, like Django."""
    result = run_manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_other_configuration_mistakes_are_one_sentence_for_every_command() -> None:
    for command in ("makemigrations", "check", "migrate"):
        result = run_manage(command, LOG_LEVEL="LOUD")
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert (
            result.stderr.strip()
            == "Time to DO cannot start: LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'LOUD'."
        )


def test_startup_with_a_strong_secret_passes_checks() -> None:
    result = run_manage("check", DEBUG="0", SECRET_KEY=STRONG_KEY)
    assert result.returncode == 0, result.stderr


SHOW_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({name: getattr(settings, name) for name in [
    "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "X_FRAME_OPTIONS", "SECURE_PROXY_SSL_HEADER",
    "TRUSTED_PROXY_COUNT", "METRICS_TOKEN", "REDIS_URL",
]} | {
    "DATABASE_NAME": str(settings.DATABASES["default"]["NAME"]),
    "LAYER": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "CACHE": settings.CACHES["default"]["BACKEND"],
    "ACCESS_MINUTES": settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() / 60,
}))
"""


def loaded_settings(**variables: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "timetodo.settings", **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_defaults_are_production_safe() -> None:
    loaded = loaded_settings(SECRET_KEY=STRONG_KEY)
    assert loaded["DEBUG"] is False
    assert loaded["ALLOWED_HOSTS"] == []
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SECURE_HSTS_SECONDS"] == 31536000
    assert loaded["SESSION_COOKIE_SECURE"] is True
    assert loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["X_FRAME_OPTIONS"] == "DENY"
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["TRUSTED_PROXY_COUNT"] == 0
    assert loaded["METRICS_TOKEN"] == ""
    assert loaded["DATABASE_NAME"] == str(ROOT / "db.sqlite3")
    assert loaded["LAYER"] == "channels.layers.InMemoryChannelLayer"
    assert loaded["CACHE"].endswith("LocMemCache")
    assert loaded["ACCESS_MINUTES"] == 15


def test_debug_defaults_serve_localhost() -> None:
    loaded = loaded_settings(DEBUG="1")
    assert loaded["DEBUG"] is True
    assert "127.0.0.1" in loaded["ALLOWED_HOSTS"]
    assert loaded["SECURE_SSL_REDIRECT"] is False


def test_render_host_name_is_allowed_and_trusted() -> None:
    loaded = loaded_settings(
        SECRET_KEY=STRONG_KEY,
        RENDER_EXTERNAL_HOSTNAME="timetodo.onrender.com",
        ALLOWED_HOSTS="todo.example.com",
        CSRF_TRUSTED_ORIGINS="https://todo.example.com",
        REDIS_URL="redis://cache:6379/0",
        ACCESS_TOKEN_MINUTES="5",
    )
    assert loaded["ALLOWED_HOSTS"] == ["todo.example.com", "timetodo.onrender.com"]
    assert loaded["CSRF_TRUSTED_ORIGINS"] == ["https://todo.example.com", "https://timetodo.onrender.com"]
    assert loaded["LAYER"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert loaded["CACHE"] == "timetodo.cache.ResilientRedisCache"
    assert loaded["ACCESS_MINUTES"] == 5
