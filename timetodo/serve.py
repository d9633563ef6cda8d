"""Serve the app with Daphne: one process, or WEB_CONCURRENCY processes on one listening socket.

    python -m timetodo.serve [daphne options...]

The container's CMD and `dev.py start` both run this. It binds HOST:PORT itself and hands
the listening socket to Daphne (`--fd`, the way Channels' deployment guide runs several
Daphne processes behind one port), so every process accepts connections from the same
port and the kernel spreads them. With one process Daphne replaces this one (`exec`), so
signals reach it directly. With more, this process stays as a small supervisor:

- SIGTERM or SIGINT: it stops listening, passes SIGTERM to every worker, waits up to
  STOP_SECONDS for them to finish, kills what is left, and exits 0.
- A worker that exits with an error within STARTUP_SECONDS of starting could not start
  (bad settings, say): the others are stopped and its exit code is returned, so the
  platform sees the failure instead of a restart loop. A worker that dies later, or is
  killed by a signal (the kernel's OOM killer, say), is started again, after a growing
  pause; more than MAX_RESTARTS in RESTART_WINDOW_SECONDS stops the server (exit 1).
- Prometheus metrics are kept per process in a shared directory
  (`PROMETHEUS_MULTIPROC_DIR`, prometheus_client's multiprocess mode) so `/metrics` from
  any process shows the sum; a dead worker's live gauges are removed. (prometheus_client
  does not aggregate the per-process `process_*` and `python_*` collectors, so those are
  shown only with one process.)

Events cross processes through the Redis channel layer, so more than one process needs
REDIS_URL: with the in-memory layer a socket on one process would miss writes served by
another.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from django.core.exceptions import ImproperlyConfigured

from timetodo.config import Env, ws_heartbeat_seconds

STARTUP_SECONDS = 10.0
STOP_SECONDS = 25.0  # Render waits 30 s after SIGTERM before it kills the container
# Workers that keep dying after starting: more than this many in the window stops the server.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
MAX_PROCESSES = 64
APPLICATION = "timetodo.asgi:application"


def daphne_arguments(fd: int, heartbeat: int, extra: Sequence[str]) -> list[str]:
    # Our own request log line carries the request id; Daphne's access log would repeat it without.
    return [
        sys.executable,
        "-m",
        "daphne",
        "--fd",
        str(fd),
        "--access-log",
        os.devnull,
        "--websocket-max-message-size",
        "65536",
        "--ping-interval",
        str(heartbeat),
        *extra,
        APPLICATION,
    ]


def read_settings(environ: Mapping[str, str]) -> tuple[str, int, int, int]:
    """HOST, PORT, WEB_CONCURRENCY and WS_HEARTBEAT_SECONDS, checked; ImproperlyConfigured names a bad one."""
    env = Env(environ)
    host = env.text("HOST", "0.0.0.0")  # noqa: S104 (the container listens on every interface)
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise ImproperlyConfigured(f"HOST must be an IPv4 address (0.0.0.0, 127.0.0.1), not {host!r}.") from None
    port = env.number("PORT", 8000, minimum=1, maximum=65535)
    processes = env.number("WEB_CONCURRENCY", 1, minimum=1, maximum=MAX_PROCESSES)
    if processes > 1 and not env.text("REDIS_URL"):
        raise ImproperlyConfigured(
            "WEB_CONCURRENCY above 1 needs REDIS_URL: without Redis each process has its own "
            "in-memory channel layer and a socket on one would miss writes served by another."
        )
    return host, port, processes, ws_heartbeat_seconds(env)


def listen(host: str, port: int) -> socket.socket:
    listener = socket.create_server((host, port), backlog=2048)
    listener.set_inheritable(True)
    return listener


class Supervisor:
    def __init__(self, command: list[str], listener: socket.socket, processes: int, metrics_dir: Path) -> None:
        self.command = command
        self.listener = listener
        self.processes = processes
        self.metrics_dir = metrics_dir
        self.environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        self.workers: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
        self.signalled: set[int] = set()
        self.restarts: list[float] = []
        self.stop_signal: int | None = None  # set by the handler; everything else happens in run()

    def say(self, message: str) -> None:
        print(f"timetodo.serve: {message}", file=sys.stderr, flush=True)

    def on_signal(self, signum: int, _frame: FrameType | None = None) -> None:
        self.stop_signal = self.stop_signal or signum

    def spawn(self) -> None:
        if self.stop_signal is None:
            worker = subprocess.Popen(self.command, env=self.environ, pass_fds=[self.listener.fileno()])  # noqa: S603
            self.workers[worker.pid] = (worker, time.monotonic())

    def signal_workers(self, signum: int) -> None:
        for pid in self.workers:
            if signum == signal.SIGKILL or pid not in self.signalled:
                self.signalled.add(pid)
                # os.kill, not Popen.send_signal: that polls first and would reap the exit status run() waits for.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)

    def forget(self, pid: int, exit_code: int) -> None:
        """A worker has gone: its live gauges (open sockets) must no longer count."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(self.metrics_dir))
        worker, _ = self.workers.pop(pid)
        worker.returncode = exit_code  # reaped here: subprocess must not wait for it again

    def give_up(self, message: str, code: int) -> int:
        self.say(f"{message}: stopping the others")
        self.stop_signal = self.stop_signal or signal.SIGTERM
        return code

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        try:
            return self.supervise()
        finally:
            self.signal_workers(signal.SIGKILL)  # (only those left after an error of our own)

    def supervise(self) -> int:
        for _ in range(self.processes):
            self.spawn()
        self.say(f"{len(self.workers)} Daphne workers: {', '.join(map(str, self.workers))}")
        code = 0
        deadline = None
        while self.workers:
            if self.stop_signal is not None:
                if deadline is None:
                    self.say(f"{signal.Signals(self.stop_signal).name}: stopping {len(self.workers)} workers")
                    deadline = time.monotonic() + STOP_SECONDS
                    self.listener.close()  # no new connections queue up for workers that are leaving
                self.signal_workers(signal.SIGTERM)
                if time.monotonic() > deadline:
                    self.say(f"workers {', '.join(map(str, self.workers))} did not stop in {STOP_SECONDS:g} s: killed")
                    self.signal_workers(signal.SIGKILL)
                    deadline = float("inf")
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.1)
                continue
            if pid not in self.workers:
                continue
            started = self.workers[pid][1]
            exit_code = os.waitstatus_to_exitcode(status)
            self.forget(pid, exit_code)
            if self.stop_signal is not None:
                continue
            now = time.monotonic()
            if now - started < STARTUP_SECONDS and exit_code > 0:
                code = self.give_up(f"worker {pid} exited with {exit_code} while starting", exit_code)
                continue
            self.restarts = [at for at in self.restarts if now - at < RESTART_WINDOW_SECONDS] + [now]
            if len(self.restarts) > MAX_RESTARTS:
                code = self.give_up(f"{len(self.restarts)} workers died within {RESTART_WINDOW_SECONDS:g} s", 1)
                continue
            self.say(f"worker {pid} exited with {exit_code}: starting another")
            time.sleep(min(2.0 ** (len(self.restarts) - 1) - 1, 8.0))  # 0, 1, 3, 7, 8 s: no tight loop
            self.spawn()
        return code


def prepare_metrics_dir(environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The operator's PROMETHEUS_MULTIPROC_DIR emptied of an earlier run's files, or a new one (removed at exit)."""
    given = environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not given:
        return Path(tempfile.mkdtemp(prefix="timetodo-metrics-")), True
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path, False


def main(argv: Sequence[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    try:
        host, port, processes, heartbeat = read_settings(os.environ)
    except ImproperlyConfigured as problem:
        print(f"timetodo.serve: {problem}", file=sys.stderr)
        return 2
    listener = listen(host, port)
    command = daphne_arguments(listener.fileno(), heartbeat, extra)
    if processes == 1:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
            prepare_metrics_dir(os.environ)
        os.execv(command[0], command)  # noqa: S606 (Daphne becomes this process)
    metrics_dir, ours = prepare_metrics_dir(os.environ)
    try:
        return Supervisor(command, listener, processes, metrics_dir).run()
    finally:
        listener.close()
        if ours:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
