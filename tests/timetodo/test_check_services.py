"""`manage.py check_services`: one line per component, non-zero exit on any failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]
BAD_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_all_services_working(capsys) -> None:
    call_command("check_services")
    out = capsys.readouterr().out
    for component in ("database", "redis", "channel_layer", "migrations"):
        assert any(line.startswith(component) and " OK " in line for line in out.splitlines()), out
    assert "All services are working." in out


@pytest.mark.django_db
def test_unreachable_redis_fails_naming_it_and_the_fix(capsys, settings) -> None:
    settings.REDIS_URL = BAD_REDIS_URL
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [BAD_REDIS_URL]}}
    }
    with pytest.raises(CommandError, match="2 check"):
        call_command("check_services")
    lines = capsys.readouterr().out.splitlines()
    redis_line = next(line for line in lines if line.startswith("redis"))
    assert "FAILED" in redis_line
    assert "check REDIS_URL" in redis_line
    assert any(line.startswith("database") and " OK " in line for line in lines)


def run_check_services(**variables: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "1",
        # Production-like: requests would wait a minute for a pooled connection, but the
        # checks give up after a few seconds (the subprocess timeout below enforces it).
        "DATABASE_POOL_TIMEOUT": "60",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check_services", "--no-color"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=40,
    )


def test_exit_code_is_zero_when_everything_works(tmp_path: Path) -> None:
    db = tmp_path / "ok.sqlite3"
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "DEBUG": "1", "DATABASE_URL": f"sqlite:///{db}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    result = run_check_services(DATABASE_URL=f"sqlite:///{db}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All services are working." in result.stdout


def test_exit_code_is_non_zero_and_each_failure_explained() -> None:
    result = run_check_services(DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing", REDIS_URL=BAD_REDIS_URL)
    assert result.returncode == 1
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "FAILED" in lines["database"]
    assert "Connection refused" in lines["database"]  # the real cause, not just a pool timeout
    assert "check DATABASE_URL" in lines["database"]
    assert "FAILED" in lines["redis"]
    assert "FAILED" in lines["channel_layer"]
    assert "FAILED" in lines["migrations"]
    assert "5 check(s) failed: database, redis, channel_layer, migrations, jobs" in result.stderr


def test_pending_migrations_fail(tmp_path: Path) -> None:
    result = run_check_services(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result.returncode == 1
    migrations_line = next(line for line in result.stdout.splitlines() if line.startswith("migrations"))
    assert "unapplied migration" in migrations_line
    assert "python manage.py migrate" in migrations_line
