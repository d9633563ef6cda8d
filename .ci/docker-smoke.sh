#!/usr/bin/env bash
# Runs the Dockerfile's steps without a Docker engine, on Python 3.13 like the image:
# builder stage (wheels), runtime stage (install from those wheels only, collectstatic with
# the build-only key), then the CMD and the HEALTHCHECK against it, with one and with two
# Daphne processes (WEB_CONCURRENCY=2, SIGTERM must stop them and exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."

PY313=""
for candidate in python3.13 /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    PY313="$candidate"
    break
  fi
done
if [[ -z "$PY313" ]]; then
  echo "docker-smoke: FAILED: python3.13 (the image's Python) is not installed" >&2
  exit 1
fi
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# pip's chatter goes to a file, shown only when pip fails.
quiet() {
  if ! "$@" >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    echo "docker-smoke: FAILED: $*" >&2
    exit 1
  fi
}

echo "docker-smoke: builder stage: pip wheel -r requirements.txt (Python 3.13)"
quiet "$PY313" -m pip wheel -q --disable-pip-version-check --wheel-dir "$work/wheels" -r requirements.txt

echo "docker-smoke: runtime stage: install from the wheels only, copy the context, collectstatic"
"$PY313" -m venv "$work/venv"
quiet "$work/venv/bin/pip" install -q --disable-pip-version-check --no-index --find-links="$work/wheels" -r requirements.txt
"$work/venv/bin/python" -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
find "$work/venv" -path '*/twisted/plugins/dropin.cache' | grep -q . || { echo "docker-smoke: FAILED: no Twisted plugin cache" >&2; exit 1; }
mkdir "$work/app"
# The build context: tracked files minus what .dockerignore leaves out.
git ls-files -z | grep -zvE '^(\.git|\.github|\.ci|tests|bench)/' | xargs -0 cp --parents -t "$work/app"
cd "$work/app"
DEBUG=0 SECRET_KEY=collectstatic-only-build-key-not-used-at-runtime-0123456789 \
  "$work/venv/bin/python" manage.py collectstatic --noinput -v0
test -f staticfiles/admin/css/base.css
test -f staticfiles/staticfiles.json

port="$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export PORT="$port" DEBUG=0 SECRET_KEY="docker-smoke-runtime-key-0123456789-abcdefghijklmnop" \
  ALLOWED_HOSTS=127.0.0.1 DATABASE_URL="sqlite:///$work/app.sqlite3" PATH="$work/venv/bin:$PATH"
python manage.py migrate --noinput -v0
# The CMD, as the image runs it; then with two Daphne processes (Redis carries their events)
# and stopped the way Render stops a container: SIGTERM, exit 0.
serve() {
  python -m timetodo.serve >"$work/daphne.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 60); do
    if python -m timetodo.healthcheck 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "docker-smoke: FAILED: HEALTHCHECK never passed" >&2
  cat "$work/daphne.log" >&2
  exit 1
}

echo "docker-smoke: CMD: python -m timetodo.serve on \$PORT=$port"
serve
echo "docker-smoke: HEALTHCHECK passed"
# WhiteNoise serves the collected admin CSS under Daphne.
python - <<PY
import urllib.request
# As behind Render's load balancer, which terminates TLS and says so in X-Forwarded-Proto.
request = urllib.request.Request(
    "http://127.0.0.1:$port/static/admin/css/base.css", headers={"X-Forwarded-Proto": "https"}
)
r = urllib.request.urlopen(request, timeout=5)
assert r.status == 200, r.status
print("docker-smoke: static files served by WhiteNoise")
PY
kill "$server_pid"
wait "$server_pid" || true

echo "docker-smoke: CMD with WEB_CONCURRENCY=2 (Redis at ${REDIS_URL:=redis://127.0.0.1:6379/1})"
WEB_CONCURRENCY=2 REDIS_URL="$REDIS_URL" serve
# The HEALTHCHECK passes once one worker listens; wait for the second before SIGTERM, or it
# (rightly) exits "before serving" instead of draining.
for _ in $(seq 1 60); do
  [ "$(grep -o "Listening on TCP address" "$work/daphne.log" | wc -l)" -ge 2 ] && break
  sleep 0.5
done
kill -TERM "$server_pid"
if ! wait "$server_pid"; then
  echo "docker-smoke: FAILED: the launcher did not exit 0 on SIGTERM" >&2
  cat "$work/daphne.log" >&2
  exit 1
fi
server_pid=""
grep -q "timetodo.serve: 2 Daphne workers" "$work/daphne.log"
grep -q "timetodo.serve: 1 job worker: " "$work/daphne.log"
grep -q "worker .* stopped" "$work/daphne.log"  # (the job worker, on the SIGTERM)
grep -q "timetodo.serve: SIGTERM: 2 workers drain" "$work/daphne.log"
if [ "$(grep -o "drained in" "$work/daphne.log" | wc -l)" != 2 ]; then
  echo "docker-smoke: FAILED: both workers should have drained" >&2
  cat "$work/daphne.log" >&2
  exit 1
fi
echo "docker-smoke: two workers served the HEALTHCHECK, drained on SIGTERM and exited 0, beside a job worker"
