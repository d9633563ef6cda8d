"""The deployment files hold what the deployment guide requires (issue: foundation)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def render() -> dict[str, Any]:
    return load("render.yaml")


@pytest.fixture(scope="module")
def web(render) -> dict[str, Any]:
    return next(s for s in render["services"] if s["type"] == "web")


def env_vars(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in service["envVars"]}


def test_render_web_service(web) -> None:
    assert web["runtime"] == "docker"
    assert web["healthCheckPath"] == "/health"
    assert web["preDeployCommand"] == "python manage.py migrate --noinput"
    assert web["branch"] == "main"
    # Deploys from main happen through CI's deploy job once tests pass (one deploy per
    # commit), so Render's own trigger is off.
    assert web["autoDeployTrigger"] == "off"
    # The old release drains before Render's SIGKILL: DRAIN_SECONDS, then the launcher's margin.
    from timetodo.serve import KILL_MARGIN_SECONDS

    drain = int(env_vars(web)["DRAIN_SECONDS"]["value"])
    assert drain + KILL_MARGIN_SECONDS < web["maxShutdownDelaySeconds"] <= 300
    deploy = load(".github/workflows/ci.yml")["jobs"]["deploy"]
    assert deploy["needs"] == ["test", "lint"]
    # The container runs the background job workers too (the queue is in the database).
    assert int(env_vars(web)["WORKER_CONCURRENCY"]["value"]) >= 1
    # Uploaded files outlive a deploy: MEDIA_ROOT is the persistent disk, which the image
    # makes writable for its user.
    assert web["disk"]["mountPath"] == env_vars(web)["MEDIA_ROOT"]["value"] == "/app/media"
    assert "chown app:app /app/media" in (ROOT / "Dockerfile").read_text()


def test_render_wires_database_redis_and_a_generated_secret(web) -> None:
    variables = env_vars(web)
    assert variables["DATABASE_URL"]["fromDatabase"] == {"name": "timetodo-db", "property": "connectionString"}
    assert variables["REDIS_URL"]["fromService"] == {
        "type": "keyvalue",
        "name": "timetodo-redis",
        "property": "connectionString",
    }
    assert variables["SECRET_KEY"]["generateValue"] is True
    declared = {
        "DEBUG",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "CORS_ALLOWED_ORIGINS",
        "DATABASE_POOL_MIN_SIZE",
        "DATABASE_POOL_MAX_SIZE",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "METRICS_TOKEN",
        "PORT",
    }
    assert declared <= variables.keys()
    assert variables["DEBUG"]["value"] == "0"
    # Behind Render's proxy the client IP is the hop it appends; without this every
    # client would share one login-attempt counter.
    assert variables["TRUSTED_PROXY_COUNT"]["value"] == "1"


def test_render_runs_a_nightly_verified_backup(render) -> None:
    cron = next(s for s in render["services"] if s["type"] == "cron")
    assert cron["schedule"].split()[2:] == ["*", "*", "*"]  # every day
    assert cron["dockerCommand"].startswith("python manage.py backup")
    assert "--verify" in cron["dockerCommand"]
    assert env_vars(cron)["DATABASE_URL"]["fromDatabase"]["name"] == "timetodo-db"


def test_the_image_has_the_postgresql_client_for_backups() -> None:
    assert "postgresql-client" in (ROOT / "Dockerfile").read_text()


def test_render_database_and_key_value_store(render) -> None:
    database = next(d for d in render["databases"] if d["name"] == "timetodo-db")
    assert str(database["postgresMajorVersion"]) == "15"
    redis = next(s for s in render["services"] if s["name"] == "timetodo-redis")
    assert redis["type"] == "keyvalue"


def test_compose_runs_app_postgres_and_redis_with_health_checks() -> None:
    services = load("docker-compose.yml")["services"]
    assert services["db"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name in ("app", "db", "redis"):
        assert services[name]["healthcheck"]["test"], name
    assert services["app"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    app_env = services["app"]["environment"]
    assert app_env["DATABASE_URL"].startswith("postgres://")
    assert app_env["REDIS_URL"].startswith("redis://redis:6379")


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, re.MULTILINE)
    assert stages == [("python:3.13-slim", "builder"), ("python:3.13-slim", "runtime")]
    assert "pip wheel --wheel-dir /wheels -r requirements.txt" in text
    assert "--no-index --find-links=/wheels" in text
    assert "collectstatic --noinput" in text
    user = re.search(r"^USER (\S+)", text, re.MULTILINE)
    assert user is not None
    assert user.group(1).split(":")[0] not in {"root", "0"}
    assert re.search(r"^EXPOSE 8000$", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD \[\"python\", \"-m\", \"timetodo.healthcheck\"\]", text, re.MULTILINE)
    cmd = re.search(r"^CMD (.+)$", text, re.MULTILINE)
    assert cmd is not None
    assert cmd.group(1) == '["python", "-m", "timetodo.serve"]'  # exec form: SIGTERM reaches it
    # Built as root before USER: the app user could not write Twisted's plugin cache.
    plugins = text.index("getPlugins(IPlugin)")
    assert text.index("pip install --no-index") < plugins < text.index("\nUSER ")


def test_the_launcher_runs_daphne_as_the_container_needs() -> None:
    from timetodo.serve import daphne_arguments

    command = " ".join(daphne_arguments(3, 20, []))
    assert "-m timetodo.webserver --fd 3" in command  # Daphne, with readiness and draining
    assert "--websocket-max-message-size 65536" in command  # frames over 64 KiB: 1009
    assert "--ping-interval 20" in command
    assert command.endswith("timetodo.asgi:application")


def test_workflow_tests_lints_and_deploys_main() -> None:
    workflow = load(".github/workflows/ci.yml")
    triggers = workflow[True]  # YAML 1.1 reads the bare key `on` as a boolean
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["pull_request"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert jobs["test"]["services"]["postgres"]["image"] == "postgres:15"
    assert jobs["test"]["services"]["redis"]["image"] == "redis:7"
    test_steps = " ".join(str(step.get("run", "")) for step in jobs["test"]["steps"])
    assert "python dev.py test --cov" in test_steps
    setup = next(s for s in jobs["test"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.13"
    lint_steps = " ".join(str(step.get("run", "")) for step in jobs["lint"]["steps"])
    for command in ("ruff check", "ruff format --check", "mypy"):
        assert command in lint_steps
    deploy = jobs["deploy"]
    assert deploy["needs"] == ["test", "lint"]
    assert "refs/heads/main" in deploy["if"]
    deploy_step = deploy["steps"][0]
    assert "api.render.com/v1/services/${RENDER_SERVICE_ID}/deploys" in deploy_step["run"]
    assert deploy_step["env"]["RENDER_API_KEY"] == "${{ secrets.RENDER_API_KEY }}"
    assert deploy_step["env"]["RENDER_SERVICE_ID"] == "${{ secrets.RENDER_SERVICE_ID }}"


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_requirements_are_pinned(name: str) -> None:
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-r ")):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[0-9][0-9A-Za-z.]*", line), f"{name}: {line} is not pinned"


def test_runtime_versions_the_guide_asks_for() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["Django"].startswith("5.2.")
    daphne = tuple(int(part) for part in pins["daphne"].split("."))
    assert daphne >= (4, 2, 2)
