"""Checks of the services Time to DO depends on.

Shared by `/health/detailed` (which reports only each component's state) and
`manage.py check_services` (which also prints what is wrong and how to fix it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Q

logger = logging.getLogger(__name__)

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
NOT_CONFIGURED = "not_configured"
APPLIED = "applied"
PENDING = "pending"
UNKNOWN = "unknown"
BACKLOGGED = "backlogged"

# Each check gives up quickly, so a monitor gets a 503 naming the component, not a timeout.
CHANNEL_LAYER_TIMEOUT = 3.0
CHANNEL_LAYER_RESEND = 0.5
REDIS_TIMEOUT = 2.0
DATABASE_PROBE_TIMEOUT = 3
READY_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    status: str
    detail: str
    hint: str = ""
    figures: dict[str, Any] | None = None  # (the job queue's, for /health/detailed)

    @property
    def ok(self) -> bool:
        return self.status in {HEALTHY, NOT_CONFIGURED, APPLIED}


def _failure(component: str, exc: BaseException, hint: str) -> CheckResult:
    message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    logger.warning("health check failed: %s: %s", component, message)
    return CheckResult(UNHEALTHY, message, hint)


def check_database(alias: str = DEFAULT_DB_ALIAS) -> CheckResult:
    connection = connections[alias]
    hint = "check DATABASE_URL (host, port, name, user, password) and that the database server is running"
    # A pooled connection waits DATABASE_POOL_TIMEOUT for a dead server and then only says
    # it timed out; one direct attempt with a short timeout fails fast and says why.
    probe_error = _direct_probe(connection)
    if probe_error is not None:
        return _failure("database", probe_error, hint)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return _failure("database", exc, hint)
    return CheckResult(HEALTHY, f"{connection.vendor} database {connection.settings_dict['NAME']!s} answers")


def _direct_probe(connection: BaseDatabaseWrapper) -> Exception | None:
    """For a pooled PostgreSQL database: connect once, outside the pool, with a short timeout."""
    if not isinstance(connection.settings_dict.get("OPTIONS", {}).get("pool"), dict):
        return None
    try:
        params = {**connection.get_connection_params(), "connect_timeout": DATABASE_PROBE_TIMEOUT}
        psycopg.connect(**params).close()
    except Exception as exc:
        return exc
    return None


def check_redis() -> CheckResult:
    url = settings.REDIS_URL
    if not url:
        return CheckResult(NOT_CONFIGURED, "REDIS_URL is unset: using the in-memory channel layer and local cache")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return _failure("redis", exc, "check REDIS_URL and that the Redis server is running and reachable")
    return CheckResult(HEALTHY, "Redis answers PING")


async def _channel_layer_round_trip() -> bool:
    """Send a message to a new channel of our own until it comes back.

    Sent again every CHANNEL_LAYER_RESEND seconds: with Redis pub/sub the SUBSCRIBE and the
    PUBLISH travel on two connections, and a PUBLISH that Redis sees first is dropped (it
    happens after Redis comes back, when the subscriber's connection is being rebuilt).
    """
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    channel = await layer.new_channel(prefix="health.")
    token = uuid.uuid4().hex
    receiving = asyncio.ensure_future(layer.receive(channel))
    try:
        while True:
            await layer.send(channel, {"type": "health.ping", "token": token})
            done, _ = await asyncio.wait({receiving}, timeout=CHANNEL_LAYER_RESEND)
            if done:
                message = receiving.result()
                return bool(message.get("token") == token)
    finally:
        if not receiving.done():
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving


async def _bounded_round_trip() -> bool:
    return await asyncio.wait_for(_channel_layer_round_trip(), timeout=CHANNEL_LAYER_TIMEOUT)


def check_channel_layer() -> CheckResult:
    try:
        matched = async_to_sync(_bounded_round_trip)()
    except TimeoutError:
        return _failure(
            "channel_layer",
            TimeoutError(f"a message sent to itself did not come back within {CHANNEL_LAYER_TIMEOUT:g} s"),
            "check REDIS_URL and the Redis server's load",
        )
    except Exception as exc:
        return _failure("channel_layer", exc, "check REDIS_URL and that Redis accepts connections from this instance")
    if not matched:
        return CheckResult(UNHEALTHY, "the message received differs from the one sent", "check CHANNEL_LAYERS")
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return CheckResult(HEALTHY, f"{backend} delivered a message sent to itself")


def check_migrations(alias: str = DEFAULT_DB_ALIAS) -> CheckResult:
    try:
        executor = MigrationExecutor(connections[alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        result = _failure("migrations", exc, "fix the database connection first")
        return CheckResult(UNKNOWN, result.detail, result.hint)
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:5])
        return CheckResult(PENDING, f"{len(plan)} unapplied migration(s): {names}", "run: python manage.py migrate")
    return CheckResult(APPLIED, "every migration is applied")


@dataclass(frozen=True)
class QueueFigures:
    pending: int  # due now and waiting for a worker
    oldest_pending_seconds: float  # how long the oldest of them has waited (0 when none)
    scheduled: int  # waiting for their retry's back-off to pass
    running: int
    failed: int  # failed for good (kept for the admin)
    successful: int  # done and not yet pruned


def queue_figures() -> QueueFigures:
    """The job queue now: two queries (counts by state; the oldest due job)."""
    from django.db.models import Count, Min
    from django.utils import timezone
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult, get_date_max

    now = timezone.now()
    rows = DBTaskResult.objects.filter(backend_name="default")
    counts = dict(rows.values_list("status").annotate(count=Count("pk")).order_by())
    due = rows.ready().aggregate(
        count=Count("pk"),
        unscheduled=Min("enqueued_at", filter=Q(run_after=get_date_max())),
        scheduled=Min("run_after", filter=~Q(run_after=get_date_max())),
    )
    waiting_since = min((at for at in (due["unscheduled"], due["scheduled"]) if at is not None), default=now)
    return QueueFigures(
        pending=due["count"],
        oldest_pending_seconds=round(max((now - waiting_since).total_seconds(), 0.0), 1),
        scheduled=counts.get(TaskResultStatus.READY, 0) - due["count"],
        running=counts.get(TaskResultStatus.RUNNING, 0),
        failed=counts.get(TaskResultStatus.FAILED, 0),
        successful=counts.get(TaskResultStatus.SUCCESSFUL, 0),
    )


def check_jobs() -> CheckResult:
    """Is the background worker keeping up? Backlogged once the oldest due job has waited
    JOB_BACKLOG_SECONDS (no worker running, or too few for the load)."""
    try:
        queue = queue_figures()
    except Exception as exc:
        result = _failure("jobs", exc, "fix the database connection first")
        return CheckResult(UNKNOWN, result.detail, result.hint)
    figures = {name: getattr(queue, name) for name in QueueFigures.__dataclass_fields__}
    detail = (
        f"{queue.pending} due (the oldest waiting {queue.oldest_pending_seconds:g} s), "
        f"{queue.scheduled} waiting to retry, {queue.running} running, {queue.failed} failed"
    )
    if queue.pending and queue.oldest_pending_seconds >= settings.JOB_BACKLOG_SECONDS:
        return CheckResult(
            BACKLOGGED,
            detail,
            "no worker is taking jobs: check WORKER_CONCURRENCY (0 runs none beside the web processes) "
            "or that `python manage.py run_worker` runs, and its log",
            figures,
        )
    return CheckResult(HEALTHY, detail, figures=figures)


def run_all_checks() -> dict[str, CheckResult]:
    database = check_database()
    migrations = (
        check_migrations()
        if database.ok
        else CheckResult(UNKNOWN, "cannot tell while the database is unreachable", "fix the database first")
    )
    jobs = (
        check_jobs()
        if migrations.ok
        else CheckResult(UNKNOWN, "cannot tell until the database is reachable and migrated", "fix that first")
    )
    return {
        "database": database,
        "redis": check_redis(),
        "channel_layer": check_channel_layer(),
        "migrations": migrations,
        "jobs": jobs,
    }


def wait_until_ready(
    *,
    report: Callable[[str], None],
    ready: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Block until the database answers and no migration of this code is pending (a web
    process before it listens, a job worker before it claims): `report` is told each new
    reason to wait, `ready` once the wait is over (if there was one)."""
    told = ""
    while True:
        database = check_database()
        migrations = check_migrations() if database.ok else None
        if database.ok and migrations is not None and migrations.ok:
            break
        reason = f"database: {database.detail}" if not database.ok else f"migrations: {migrations.detail}"  # type: ignore[union-attr]
        if reason != told:
            report(f"{reason}; checking every {READY_POLL_SECONDS:g} s")
            told = reason
        sleep(READY_POLL_SECONDS)
    if told:
        ready("ready: the database answers and every migration is applied")
    connections.close_all()
