#!/usr/bin/env python3
"""The two commands a person trying Time to DO needs, with Python 3.11+ and nothing else.

    python3 dev.py start   # venv + pinned deps + migrations + demo data, then Daphne on http://127.0.0.1:8000
    python3 dev.py test    # venv + pinned dev deps, then the whole pytest suite

Both create `.venv/` beside this file on first use and reinstall only when a requirements
file changes. Extra arguments after `test` go to pytest; after `start`, to Daphne.
Only the standard library is used here, because this runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

# Only for the local run: DEBUG on and a throwaway key. Production sets its own.
LOCAL_DEFAULTS = {
    "DEBUG": "1",
    "SECRET_KEY": "local-development-only-key-never-use-in-production-0123456789",
}


def _say(message: str) -> None:
    print(f"[dev.py] {message}", flush=True)


def _requirements_digest(requirements: Path) -> str:
    digest = hashlib.sha256()
    pending = [requirements]
    while pending:
        path = pending.pop()
        text = path.read_text(encoding="utf-8")
        digest.update(text.encode())
        for line in text.splitlines():
            if line.startswith("-r "):
                pending.append(path.parent / line[3:].strip())
    return digest.hexdigest()


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` into it unless already done."""
    if sys.version_info < (3, 11):  # noqa: UP036 (runs before the venv, on any python3)
        sys.exit("Time to DO needs Python 3.11 or newer; this is " + sys.version.split()[0])
    if not PYTHON.exists():
        _say(f"creating virtual environment in {VENV}")
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            sys.exit(
                f"Could not create a virtual environment ({exc}). On Debian or Ubuntu install the "
                "venv module first: sudo apt install python3-venv"
            )
    req_path = ROOT / requirements
    stamp = VENV / f".installed-{requirements}"
    wanted = _requirements_digest(req_path)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    _say(f"installing {requirements}")
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(req_path)],
        check=True,
    )
    stamp.write_text(wanted)


def run(args: list[str], env: dict[str, str] | None = None) -> int:
    return subprocess.call(args, cwd=ROOT, env=env)


def start(extra: list[str]) -> int:
    ensure_venv("requirements.txt")
    env = {**LOCAL_DEFAULTS, **os.environ}
    steps = (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"], ["seed_demo"])
    for step in steps:
        code = run([str(PYTHON), "manage.py", *step], env)
        if code:
            return code
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("PORT", "8000")
    _say(f"starting Daphne: open http://{env['HOST']}:{env['PORT']}/ in a browser  (Ctrl+C stops it)")
    # As the container starts it; options after `start` go to Daphne.
    server = subprocess.Popen([str(PYTHON), "-m", "timetodo.serve", *extra], cwd=ROOT, env=env)
    while True:
        try:
            return server.wait()
        except KeyboardInterrupt:
            # The server got Ctrl+C too and is draining (a second one stops it at once):
            # wait for it, so the prompt comes back once it has exited.
            continue


def test(extra: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    return run([str(PYTHON), "-m", "pytest", *extra])


def main(argv: list[str]) -> int:
    commands = {"start": start, "test": test}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    try:
        return commands[argv[0]](argv[1:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
