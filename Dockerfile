# syntax=docker/dockerfile:1

# Builder: turn every pinned runtime dependency into a wheel.
FROM python:3.13-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt

# Runtime: the wheels, the code and collected static files; runs as a non-root user.
FROM python:3.13-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8000
# pg_dump/pg_restore for `manage.py backup` and `restore` (the nightly Render cron job).
# Debian's postgresql-client follows the distribution's stable updates; pinning an exact
# version would break the build at every security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels -r requirements.txt
# Daphne finds Twisted's fd: endpoint (how timetodo.serve hands it the socket) through
# Twisted's plugin cache: build it now, as the app user cannot write site-packages.
RUN python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
# The code stays owned by root: the app user can read it but not rewrite it.
COPY . .
# collectstatic needs settings, not secrets: a build-only key that never reaches runtime.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-build-key-not-used-at-runtime-0123456789 \
    python manage.py collectstatic --noinput -v0 \
    && mkdir -p /app/media /app/backups \
    && chown app:app /app/media /app/backups
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "timetodo.healthcheck"]
# timetodo.serve binds $PORT and runs WEB_CONCURRENCY Daphne processes on it (default 1;
# timetodo.webserver: Daphne with --websocket-max-message-size 65536 and --ping-interval
# $WS_HEARTBEAT_SECONDS, serving once migrations are applied, draining on SIGTERM).
CMD ["python", "-m", "timetodo.serve"]
