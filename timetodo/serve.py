"""Serve the app with Daphne: WEB_CONCURRENCY processes (1 by default) on one listening socket,
and WORKER_CONCURRENCY background job workers (1 by default; 0 runs none) beside them.

    python -m timetodo.serve [daphne options...]

The container's CMD and `dev.py start` both run this. It binds HOST:PORT itself and hands
the listening socket to its Daphne processes (`--fd`, the way Channels' deployment guide
runs several Daphne processes behind one port), so every process accepts connections from
the same port and the kernel spreads them. Each process is `timetodo.webserver`: Daphne
that accepts only once the database and migrations are ready, and drains on SIGTERM.
The job workers are `manage.py run_worker` (timetodo.worker), so one container runs
everything; each is started in a session of its own, so a terminal's Ctrl-C reaches it
only through this process (once: the first signal finishes the job under way). This
process stays as a small supervisor of both kinds:

- SIGTERM or SIGINT: it stops listening, passes SIGTERM to every worker, which drain
  (in-flight requests finish, sockets close with 1012) for up to DRAIN_SECONDS, kills
  what is left DRAIN_SECONDS + KILL_MARGIN_SECONDS later, and exits 0. A second signal
  is passed on too: the workers then stop at once. A job worker finishes its job under
  way (one still running at the kill has its job run again by the next worker).
- SIGHUP: a rolling restart, one web process at a time: a new worker starts, and only once it
  listens (it says so on a pipe, after its readiness check) is an old one told to drain;
  the next follows when that one has gone (or is killed DRAIN_SECONDS +
  KILL_MARGIN_SECONDS after it was told). The new processes load the code on disk afresh;
  their environment is this process's, as it was at its start. If a new worker fails to
  get ready within READY_SECONDS, or exits first, the roll stops and the old processes
  keep serving. The job workers are told to stop at once, each replaced by a new one
  straight away (two claim side by side safely while the old one finishes its job).
- A worker (of either kind) started with the server that exits with an error within STARTUP_SECONDS could not start
  (bad settings, say): the others are stopped and its exit code is returned, so the
  platform sees the failure instead of a restart loop. A worker that dies later, or is
  killed by a signal (the kernel's OOM killer, say), is started again (the same kind),
  after a growing pause; more than MAX_RESTARTS in RESTART_WINDOW_SECONDS stops the server (exit 1).
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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from django.core.exceptions import ImproperlyConfigured

from timetodo.config import Env, drain_seconds, ws_heartbeat_seconds
from timetodo.lifecycle import READY_FD_VARIABLE, READY_LINE, SUPERVISOR_PID_VARIABLE

STARTUP_SECONDS = 10.0
KILL_MARGIN_SECONDS = 5.0  # DRAIN_SECONDS (20) + this stays inside Render's 30 s grace
READY_SECONDS = 120.0  # a rolling restart's new worker must listen within this
# Workers that keep dying after starting: more than this many in the window stops the server.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
MAX_PROCESSES = 64
MAX_JOB_WORKERS = 16
APPLICATION = "timetodo.asgi:application"
WORKER_MODULE = "timetodo.webserver"
MANAGE_PY = Path(__file__).resolve().parent.parent / "manage.py"
WEB = "web"
JOBS = "jobs"


def job_worker_arguments() -> list[str]:
    return [sys.executable, str(MANAGE_PY), "run_worker"]


def daphne_arguments(fd: int, heartbeat: int, extra: Sequence[str]) -> list[str]:
    # Our own request log line carries the request id; Daphne's access log would repeat it without.
    return [
        sys.executable,
        "-m",
        WORKER_MODULE,
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


@dataclass(frozen=True)
class ServeSettings:
    host: str
    port: int
    processes: int  # Daphne processes
    heartbeat: int
    job_workers: int


def read_settings(environ: Mapping[str, str]) -> ServeSettings:
    """HOST, PORT, WEB_CONCURRENCY, WS_HEARTBEAT_SECONDS and WORKER_CONCURRENCY, checked;
    ImproperlyConfigured names a bad one."""
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
    job_workers = env.number("WORKER_CONCURRENCY", 1, minimum=0, maximum=MAX_JOB_WORKERS)
    return ServeSettings(host, port, processes, ws_heartbeat_seconds(env), job_workers)


def listen(host: str, port: int) -> socket.socket:
    listener = socket.create_server((host, port), backlog=2048)
    listener.set_inheritable(True)
    return listener


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    started: float
    ready_pipe: int | None  # read end of the pipe the worker writes READY_LINE to once it listens
    kind: str = WEB  # or JOBS: a background job worker (no socket, no readiness pipe)
    initial: bool = False  # started with the server: failing at once means the server cannot start
    ready: bool = False
    retiring: bool = False  # told to drain by a rolling restart: its exit is not a death
    kill_at: float = float("inf")  # a retiring worker still there then is killed


class Supervisor:
    def __init__(
        self,
        command: list[str],
        listener: socket.socket,
        processes: int,
        metrics_dir: Path | None,
        drain: float,
        job_workers: int = 0,
        job_command: list[str] | None = None,
    ) -> None:
        self.command = command
        self.job_workers = job_workers
        self.job_command = job_command or job_worker_arguments()
        self.listener = listener
        self.processes = processes
        self.metrics_dir = metrics_dir
        self.stop_after = drain + KILL_MARGIN_SECONDS
        self.environ = dict(os.environ)
        if metrics_dir is not None:
            self.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        self.workers: dict[int, Worker] = {}
        self.signalled: set[int] = set()
        self.restarts: list[float] = []
        # Set by the handlers; everything else happens in supervise().
        self.stop_signal: int | None = None
        self.stop_signals = 0
        self.reload_requested = False
        # A rolling restart: the old workers still to replace, the new one it waits for,
        # and the old one draining.
        self.roll: list[int] | None = None
        self.incoming: int | None = None
        self.outgoing: int | None = None

    def say(self, message: str) -> None:
        sys.stderr.flush()
        os.write(sys.stderr.fileno(), f"timetodo.serve: {message}\n".encode())  # one write per line

    def on_signal(self, signum: int, _frame: FrameType | None = None) -> None:
        if signum == signal.SIGHUP:
            self.reload_requested = True
            return
        self.stop_signal = self.stop_signal or signum
        self.stop_signals += 1

    def spawn(self, initial: bool = False, kind: str = WEB) -> int | None:
        if self.stop_signal is not None:
            return None
        if kind == JOBS:
            # A session of its own: a terminal's Ctrl-C reaches it once, through us (a job
            # worker takes a second signal as "stop the job now").
            environ = {**self.environ, SUPERVISOR_PID_VARIABLE: str(os.getpid())}
            job_worker = subprocess.Popen(self.job_command, env=environ, start_new_session=True)  # noqa: S603
            self.workers[job_worker.pid] = Worker(job_worker, time.monotonic(), None, JOBS, initial, ready=True)
            return job_worker.pid
        read_end, write_end = os.pipe()
        environ = {**self.environ, READY_FD_VARIABLE: str(write_end)}
        try:
            worker = subprocess.Popen(  # noqa: S603
                self.command, env=environ, pass_fds=[self.listener.fileno(), write_end]
            )
        finally:
            os.close(write_end)
        os.set_blocking(read_end, False)
        self.workers[worker.pid] = Worker(worker, time.monotonic(), read_end, WEB, initial)
        return worker.pid

    def check_ready(self, worker: Worker) -> None:
        if worker.ready_pipe is None:
            return
        try:
            said = os.read(worker.ready_pipe, 64)
        except BlockingIOError:
            return
        os.close(worker.ready_pipe)
        worker.ready_pipe = None
        worker.ready = said.startswith(READY_LINE)

    def signal_workers(self, signum: int, again: bool = False) -> None:
        for pid in self.workers:
            if signum == signal.SIGKILL or again or pid not in self.signalled:
                self.terminate(pid, signum)

    def terminate(self, pid: int, signum: int = signal.SIGTERM) -> None:
        self.signalled.add(pid)
        # os.kill, not Popen.send_signal: that polls first and would reap the exit status supervise() waits for.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def forget(self, pid: int, exit_code: int) -> Worker:
        """A worker has gone: its live gauges (open sockets) must no longer count."""
        if self.metrics_dir is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, str(self.metrics_dir))
        worker = self.workers.pop(pid)
        self.signalled.discard(pid)  # (the kernel may give the pid to a later worker)
        worker.process.returncode = exit_code  # reaped here: subprocess must not wait for it again
        if worker.ready_pipe is not None:
            os.close(worker.ready_pipe)
            worker.ready_pipe = None
        return worker

    def give_up(self, message: str, code: int) -> int:
        self.say(f"{message}: stopping the others")
        self.stop_signal = self.stop_signal or signal.SIGTERM
        return code

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self.on_signal)
        try:
            return self.supervise()
        finally:
            self.signal_workers(signal.SIGKILL)  # (only those left after an error of our own)

    def retire(self, pid: int) -> None:
        worker = self.workers[pid]
        worker.retiring = True
        worker.kill_at = time.monotonic() + self.stop_after
        self.terminate(pid)

    def kill_overdue(self) -> None:
        now = time.monotonic()
        for pid, worker in self.workers.items():
            if worker.retiring and now > worker.kill_at:
                self.say(f"worker {pid} still running {self.stop_after:g} s after it was told to drain: killed")
                worker.kill_at = float("inf")
                self.terminate(pid, signal.SIGKILL)

    def advance_roll(self) -> None:
        """One step of a rolling restart: start a new worker, or retire an old one once it is ready."""
        if self.roll is None or self.outgoing is not None:
            return  # the old one is draining; the next starts once it has gone
        if self.incoming is not None:
            incoming = self.workers[self.incoming]
            if incoming.ready:
                old = self.roll.pop(0)
                self.say(f"worker {self.incoming} is ready: worker {old} drains")
                self.incoming = None
                if old in self.workers:
                    self.outgoing = old
                    self.retire(old)
            elif time.monotonic() - incoming.started > READY_SECONDS:
                self.say(
                    f"new worker {self.incoming} not ready within {READY_SECONDS:g} s: the rolling restart "
                    f"stops, {len(self.roll)} old workers keep serving"
                )
                self.retire(self.incoming)
                self.incoming, self.roll = None, None
            return
        self.roll = [pid for pid in self.roll if pid in self.workers]
        if not self.roll:
            self.say("rolling restart done")
            self.roll = None
            return
        self.incoming = self.spawn()

    def replace_job_workers(self) -> None:
        old = [pid for pid, worker in self.workers.items() if worker.kind == JOBS and not worker.retiring]
        for pid in old:
            self.retire(pid)
            self.spawn(kind=JOBS)
        if old:
            self.say(f"job workers {', '.join(map(str, old))} finish their jobs; new ones started")

    def supervise(self) -> int:
        for _ in range(self.processes):
            self.spawn(initial=True)
        count = len(self.workers)
        self.say(f"{count} Daphne worker{'s' if count != 1 else ''}: {', '.join(map(str, self.workers))}")
        if self.job_workers:
            started = [self.spawn(initial=True, kind=JOBS) for _ in range(self.job_workers)]
            self.say(f"{len(started)} job worker{'s' if len(started) != 1 else ''}: {', '.join(map(str, started))}")
        code = 0
        deadline = None
        forwarded = 0
        while self.workers:
            for worker in self.workers.values():
                self.check_ready(worker)
            if self.stop_signal is not None:
                if deadline is None:
                    web = sum(worker.kind == WEB for worker in self.workers.values())
                    jobs = len(self.workers) - web
                    finishing = (
                        (", 1 job worker finishing its job" if jobs == 1 else f", {jobs} job workers finishing theirs")
                        if jobs
                        else ""
                    )
                    self.say(f"{signal.Signals(self.stop_signal).name}: {web} workers drain{finishing}")
                    deadline = time.monotonic() + self.stop_after
                    self.listener.close()  # no new connections queue up for workers that are leaving
                    self.roll = None
                self.signal_workers(signal.SIGTERM)
                if self.stop_signals > 1 and forwarded < self.stop_signals:
                    self.signal_workers(signal.SIGTERM, again=True)  # a second signal: stop at once
                forwarded = self.stop_signals
                if time.monotonic() > deadline:
                    left = ", ".join(map(str, self.workers))
                    self.say(f"workers {left} still running after {self.stop_after:g} s: killed")
                    self.signal_workers(signal.SIGKILL)
                    deadline = float("inf")
            elif self.reload_requested and self.roll is None:
                self.reload_requested = False
                self.roll = [pid for pid, worker in self.workers.items() if not worker.retiring and worker.kind == WEB]
                self.say(f"SIGHUP: replacing {len(self.roll)} workers one at a time")
                self.replace_job_workers()
            if self.roll is not None and self.stop_signal is None:
                self.advance_roll()
            self.kill_overdue()
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.1)
                continue
            if pid not in self.workers:
                continue
            exit_code = os.waitstatus_to_exitcode(status)
            worker = self.forget(pid, exit_code)
            if self.stop_signal is not None:
                continue
            if worker.retiring and worker.kind == JOBS:
                self.say(f"job worker {pid} stopped with {exit_code}")
                continue
            if worker.retiring:
                self.say(f"worker {pid} drained and exited with {exit_code}")
                if pid == self.outgoing:
                    self.outgoing = None
                continue
            if pid == self.incoming:
                self.say(f"new worker {pid} exited with {exit_code} before it was ready: the rolling restart stops")
                self.incoming, self.roll = None, None
                continue
            now = time.monotonic()
            name = "job worker" if worker.kind == JOBS else "worker"
            if worker.initial and now - worker.started < STARTUP_SECONDS and exit_code > 0:
                code = self.give_up(f"{name} {pid} exited with {exit_code} while starting", exit_code)
                continue
            self.restarts = [at for at in self.restarts if now - at < RESTART_WINDOW_SECONDS] + [now]
            if len(self.restarts) > MAX_RESTARTS:
                code = self.give_up(f"{len(self.restarts)} workers died within {RESTART_WINDOW_SECONDS:g} s", 1)
                continue
            self.say(f"{name} {pid} exited with {exit_code}: starting another")
            time.sleep(min(2.0 ** (len(self.restarts) - 1) - 1, 8.0))  # 0, 1, 3, 7, 8 s: no tight loop
            if self.roll is not None and pid in self.roll:
                self.roll.remove(pid)
            self.spawn(kind=worker.kind)
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
        serve = read_settings(os.environ)
        drain = drain_seconds(Env(os.environ))
    except ImproperlyConfigured as problem:
        print(f"timetodo.serve: {problem}", file=sys.stderr)
        return 2
    listener = listen(serve.host, serve.port)
    command = daphne_arguments(listener.fileno(), serve.heartbeat, extra)
    # One process keeps prometheus_client's ordinary mode (with its process_* metrics)
    # unless the operator names a directory; a rolling restart's overlap only resets counters.
    metrics_dir: Path | None = None
    ours = False
    if serve.processes > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
        metrics_dir, ours = prepare_metrics_dir(os.environ)
    try:
        return Supervisor(command, listener, serve.processes, metrics_dir, drain, serve.job_workers).run()
    finally:
        listener.close()
        if ours and metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
