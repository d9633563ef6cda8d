"""Jobs for the worker's tests: they leave their trace in a file the test reads."""

from __future__ import annotations

import time
from pathlib import Path

from timetodo.jobs import job


def runs_of(path: str) -> int:
    file = Path(path)
    return len(file.read_text().splitlines()) if file.exists() else 0


def note(path: str, line: str) -> None:
    with Path(path).open("a") as file:
        file.write(line + "\n")


@job(attempts=3, base_seconds=0.2, cap_seconds=0.5)
def append_line(*, path: str, line: str) -> None:
    note(path, line)


@job(attempts=4, base_seconds=0.2, cap_seconds=0.5)
def fail_then_succeed(*, path: str, failures: int) -> str:
    note(path, "run")
    if runs_of(path) <= failures:
        raise RuntimeError(f"failing on purpose (run {runs_of(path)})")
    return "done"


@job(attempts=3, base_seconds=0.2, cap_seconds=0.5)
def always_fail(*, path: str) -> None:
    note(path, "run")
    raise ValueError("this job never works")


@job(attempts=3, base_seconds=0.2, cap_seconds=0.5)
def slow_first_run(*, path: str, seconds: float) -> None:
    """The first run takes `seconds` (long enough to kill its worker); later ones finish."""
    note(path, "started")
    if runs_of(path) == 1:
        time.sleep(seconds)
    note(path, "finished")


@job(attempts=1)
def once_only(*, path: str) -> None:
    note(path, "run")


@job(attempts=3, base_seconds=0.2, cap_seconds=0.5)
def returns_a_set(*, path: str) -> object:
    note(path, "run")
    return {1, 2}


@job(attempts=2, base_seconds=0.2, cap_seconds=0.5)
def exits(*, path: str) -> None:
    note(path, "run")
    raise SystemExit(3)


@job(attempts=3, base_seconds=0.2, cap_seconds=0.5)
def returns_nan(*, path: str) -> float:
    note(path, "run")
    return float("nan")


@job(attempts=3, base_seconds=0.2, cap_seconds=0.5)
def gated(*, path: str, gate: str) -> None:
    """Runs until the test opens the gate (creates that file), at most a minute."""
    note(path, "started")
    deadline = time.monotonic() + 60
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    note(path, "finished")


@job()
def append_line_default(*, path: str) -> None:
    note(path, "run")
