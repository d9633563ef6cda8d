"""One Daphne process that starts serving only when it can, and stops without losing work.

    python -m timetodo.webserver [daphne options...] timetodo.asgi:application

The launcher (`timetodo.serve`) runs this instead of plain `daphne`; the options are
Daphne's own. What it adds:

- **Readiness.** Before it accepts a connection it waits until the database answers and
  every migration this code knows is applied, saying what it waits for. A new release
  therefore answers `/health` only once it can serve. When the launcher passes
  `TIMETODO_READY_FD`, it writes one line there once it listens (a rolling restart waits
  for that line before it retires an old process).
- **Draining** on SIGTERM or SIGINT: it stops accepting connections (the launcher's
  other processes, or the next release, take the new ones), lets every HTTP request in
  flight finish and answers it with `Connection: close`, closes keep-alive connections
  once they have been idle for IDLE_CLOSE_SECONDS, and closes every WebSocket with 1012
  (service restart) so clients reconnect at once and resume with `since`. It exits 0 as
  soon as nothing is left, or after DRAIN_SECONDS (then Daphne cancels what is left,
  logged). A second signal while draining (2 s or more after the first) stops it at
  once. Once stopping, the process is gone within EXIT_WATCHDOG_SECONDS even if a view's
  thread is stuck. `/health/detailed` says `draining` (503) meanwhile, see
  `timetodo.lifecycle`.

An idle keep-alive connection closed by the drain can cross a request the client sends at
that very moment (as with any server's keep-alive timeout): waiting for a second of
idleness spares clients in the middle of their work, and clients retry such requests.

Daphne itself has no draining: on SIGTERM it cancels every application instance
("Killed N pending application instances") and drops sockets without a close frame.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import daphne.server  # before twisted.internet.reactor: it installs the asyncio reactor
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor

from timetodo import lifecycle
from timetodo.config import Env, drain_seconds
from timetodo.lifecycle import (
    EXIT_WATCHDOG_SECONDS,
    READY_FD_VARIABLE,
    READY_LINE,
    SAME_REQUEST_SECONDS,
    STOP_NOW_SECONDS,
)

logger = logging.getLogger("timetodo.webserver")

TICK_SECONDS = 0.1
IDLE_CLOSE_SECONDS = 1.0
RESTART_CLOSE_CODE = 1012  # RFC 6455 registry: "Service Restart"


_reactor: Any = reactor  # Twisted's reactor module object is typed as a module, not as a reactor


def say(message: str) -> None:
    # One write per line: print() writes the text and its newline separately, and two
    # processes sharing stderr (the launcher's workers) then interleave mid-line.
    sys.stderr.flush()
    os.write(sys.stderr.fileno(), f"timetodo.webserver[{os.getpid()}]: {message}\n".encode())


def wait_until_ready() -> None:
    """Block until the database answers and no migration of this code is pending."""
    from timetodo import health

    health.wait_until_ready(report=lambda reason: say(f"not serving yet: {reason}"), ready=say)


# Container allocations between two young collections of the garbage collector (Python's
# default: 700). See tune_garbage_collector.
GC_YOUNG_THRESHOLD = 100_000
GC_OLDER_THRESHOLD = 20


def tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector out of the requests' way.

    A board builds some ten thousand containers (rows, dicts, lists) that live until its
    response is sent. At Python's default the collector ran every 700 allocations, found
    them alive, promoted them, and every few requests walked the whole heap (Django's, the
    app's: some 140,000 objects): a third of a list's CPU and a fifth of a board's, measured
    with the collector off. The objects loaded at start are frozen (never walked again), and
    the young generation holds 100,000 allocations. Almost all of a request's garbage is
    freed by reference counting anyway; cycles wait a little longer, at a cost of a few MB."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, GC_OLDER_THRESHOLD, GC_OLDER_THRESHOLD)


def _close_after_response(request: Any, version: bytes) -> bool:
    """HTTPChannel.checkPersistence while draining: this response is the connection's last."""
    request.responseHeaders.setRawHeaders(b"connection", [b"close"])
    return False


class DrainingServer(daphne.server.Server):
    """Daphne's server with readiness before listening and draining on SIGTERM."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["signal_handlers"] = False  # ours, installed once the reactor runs
        super().__init__(*args, **kwargs)
        self.drain_seconds = drain_seconds(Env(os.environ))
        self.ports: list[Any] = []
        self.channels: weakref.WeakSet[Any] = weakref.WeakSet()
        self.idle_since: dict[Any, float] = {}
        self.closed_sockets: weakref.WeakSet[Any] = weakref.WeakSet()
        self.draining = False
        self.stopping = False
        self.deadline = 0.0
        self.drain_started = 0.0

    # -- starting -------------------------------------------------------------------------

    def run(self) -> None:
        signal.signal(signal.SIGTERM, _exit_before_serving)
        signal.signal(signal.SIGINT, _exit_before_serving)
        wait_until_ready()
        tune_garbage_collector()
        _reactor.callWhenRunning(self.started)
        super().run()

    def listen_success(self, port: Any) -> None:
        self.ports.append(port)
        # Every connection's HTTP channel, so a drain can find the idle keep-alive ones
        # (Daphne tracks requests and sockets, not connections).
        factory = port.factory
        if not getattr(factory, "timetodo_tracked", False):
            build = factory.buildProtocol

            def build_and_track(addr: Any) -> Any:
                protocol = build(addr)
                if protocol is not None:
                    self.channels.add(protocol)
                return protocol

            factory.buildProtocol = build_and_track
            factory.timetodo_tracked = True
        super().listen_success(port)

    def started(self) -> None:
        loop = asyncio.get_event_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.begin_drain, signal.Signals(signum).name)
        ready_fd = os.environ.get(READY_FD_VARIABLE, "").strip()
        if ready_fd.isdigit():
            try:
                os.write(int(ready_fd), READY_LINE)
                os.close(int(ready_fd))
            except OSError as problem:
                say(f"could not tell the launcher this process is ready: {problem}")

    # -- draining -------------------------------------------------------------------------

    def begin_drain(self, signame: str) -> None:
        if self.draining:
            if time.monotonic() - self.drain_started < SAME_REQUEST_SECONDS:
                return  # Ctrl-C reaches the launcher's group at once, and the launcher passes it on
            say(f"{signame} while draining: stopping now")
            self.stop(within=STOP_NOW_SECONDS)
            return
        self.draining = True
        lifecycle.start_draining()
        self.drain_started = time.monotonic()
        self.deadline = self.drain_started + self.drain_seconds
        for port in self.ports:
            port.stopListening()
        for wrapper in list(self.channels):
            self.last_response_closes(wrapper)
        requests, sockets, idle = self.counts()
        say(
            f"{signame}: draining (up to {self.drain_seconds} s): {requests} requests in flight, "
            f"{sockets} sockets to close with {RESTART_CLOSE_CODE}, {idle} idle connections"
        )
        self.drain_tick()

    @staticmethod
    def last_response_closes(wrapper: Any) -> None:
        channel = wrapper._channel
        channel.checkPersistence = _close_after_response  # requests that arrive from now on
        if channel.requests and not channel._dataBuffer:  # the one under way, nothing behind it
            for request in channel.requests:
                if not request.startedWriting:
                    request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            # Not on an idle channel (it would drop the next request unanswered), nor with a
            # pipelined request read behind this one: that one closes the connection instead.
            channel.persistent = False

    @staticmethod
    def state_of(wrapper: Any) -> str:
        channel = wrapper._channel
        transport = channel.transport
        if transport is None or getattr(transport, "disconnected", False):
            return "gone"
        if getattr(transport, "protocol", wrapper) is not wrapper:
            return "upgraded"  # a WebSocket now: Daphne tracks it as a protocol of its own
        return "busy" if channel.requests or channel._handlingRequest else "idle"

    def websockets(self) -> list[WebSocketProtocol]:
        return [protocol for protocol in self.connections if isinstance(protocol, WebSocketProtocol)]

    def unfinished(self) -> list[Any]:
        """Requests and sockets whose connection is open or whose application still runs."""
        left = []
        for protocol, details in list(self.connections.items()):
            instance = details.get("application_instance")
            if "disconnected" not in details or (instance is not None and not instance.done()):
                left.append(protocol)
        return left

    def counts(self) -> tuple[int, int, int]:
        states = [self.state_of(wrapper) for wrapper in list(self.channels)]
        requests = len([p for p in self.unfinished() if not isinstance(p, WebSocketProtocol)])
        return requests, len(self.websockets()), states.count("idle")

    def drain_tick(self) -> None:
        try:
            self.drain_step()
        except Exception as problem:  # the drain must go on whatever one connection does
            logger.exception("drain step failed")
            say(f"drain step failed ({problem}); carrying on")
        finally:
            if not self.stopping:
                _reactor.callLater(TICK_SECONDS, self.drain_tick)

    def drain_step(self) -> None:
        now = time.monotonic()
        for protocol in self.websockets():
            if protocol.state == AutobahnProtocol.STATE_OPEN and protocol not in self.closed_sockets:
                self.closed_sockets.add(protocol)
                try:
                    # Not serverClose/sendClose: autobahn lets applications send only 1000 and
                    # 3000-4999; 1012 is the server's own code (RFC 6455's registry).
                    protocol.sendCloseFrame(code=RESTART_CLOSE_CODE, reasonUtf8=b"service restart", isReply=False)
                except Exception as problem:  # one odd socket must not stop the drain
                    say(f"could not close a socket with {RESTART_CLOSE_CODE}: {problem}; dropping it")
                    protocol.dropConnection(abort=True)
        connections_open = 0
        for wrapper in list(self.channels):
            state = self.state_of(wrapper)
            if state in {"gone", "upgraded"}:
                self.idle_since.pop(wrapper, None)
                continue
            connections_open += 1
            if state == "busy":
                self.idle_since.pop(wrapper, None)
            elif now - self.idle_since.setdefault(wrapper, now) >= IDLE_CLOSE_SECONDS:
                wrapper._channel.loseConnection()
        left = self.unfinished()
        if not left and not connections_open:
            say(f"drained in {now - self.drain_started:.1f} s: exiting")
            self.stop()
        elif now >= self.deadline:
            say(
                f"still busy after {self.drain_seconds} s ({len(left)} requests or sockets, "
                f"{connections_open} connections): stopping; what is left is cancelled"
            )
            self.stop()

    # -- stopping -------------------------------------------------------------------------

    def stop(self, within: float = EXIT_WATCHDOG_SECONDS) -> None:
        """Stop the reactor, and make sure the process ends within `within` seconds whatever blocks."""
        if not _reactor.running:
            super().stop()  # (before the reactor runs: Daphne's abort_start)
            return
        if self.stopping:
            within = min(within, STOP_NOW_SECONDS)
        else:
            self.stopping = True
            super().stop()
        watchdog = threading.Timer(within, _exit_now, args=(within,))
        watchdog.daemon = True
        watchdog.start()

    def kill_all_applications(self) -> Any:
        # Daphne's own indexes details["application_instance"], which a request still being
        # read (or just upgraded to a socket) does not have yet: a KeyError, and nothing cancelled.
        for details in self.connections.values():
            details.setdefault("application_instance", _DONE)
        return super().kill_all_applications()


class _Done:
    """Stands in for an application instance that never started."""

    @staticmethod
    def done() -> bool:
        return True


_DONE = _Done()


def _exit_now(seconds: float) -> None:
    say(f"still running {seconds:g} s after stopping (a view's thread is stuck?): exiting now")
    logging.shutdown()
    os._exit(0)


def _exit_before_serving(signum: int, _frame: object) -> None:
    say(f"{signal.Signals(signum).name} before serving: exiting")
    raise SystemExit(0)


class _CommandLine(CommandLineInterface):
    server_class = DrainingServer


def main(argv: Sequence[str] | None = None) -> int:
    # Once stop() has run, its watchdog ends the process even if the interpreter's exit
    # waits for a stuck thread (concurrent.futures joins its workers).
    _CommandLine().run(list(sys.argv[1:] if argv is None else argv))
    from django.db import connections

    connections.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
