"""Where this process is in its life: serving, or draining before it exits.

Set by `timetodo.webserver` (the Daphne process the launcher runs) and read by the health
views: `/health/detailed` says `draining` with a 503 while the process finishes its
in-flight work, so a load balancer sends it nothing new. A process that is not run by
`timetodo.webserver` (the test client, `runserver`) is always serving. No Twisted or
asyncio here: only state.
"""

from __future__ import annotations

# The launcher passes a pipe; a web process writes READY_LINE there once it listens.
READY_FD_VARIABLE = "TIMETODO_READY_FD"
READY_LINE = b"ready\n"
# The launcher gives its job workers its pid: one whose launcher has gone (killed with
# SIGKILL, say) stops after its job instead of running on as an orphan.
SUPERVISOR_PID_VARIABLE = "TIMETODO_SUPERVISOR_PID"

# Once stopping, a web process is gone within this even if a view's thread is stuck (Daphne
# waits for cancelled application instances, and asgiref for their threads): less than the
# launcher's KILL_MARGIN_SECONDS, so the platform and the launcher see an exit, not a kill.
EXIT_WATCHDOG_SECONDS = 3.0
STOP_NOW_SECONDS = 0.5  # after a second signal
# Signals this soon after the first are the same request to stop (one Ctrl-C reaches a web
# process directly and through the launcher); a later one means "stop now".
SAME_REQUEST_SECONDS = 2.0

DRAINING = "draining"

_draining = False


def start_draining() -> None:
    global _draining
    _draining = True


def is_draining() -> bool:
    return _draining


def reset() -> None:
    """Back to serving (tests only: a real process never comes back from draining)."""
    global _draining
    _draining = False
