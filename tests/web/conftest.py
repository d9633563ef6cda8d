"""The browser tests' server and Chromium: one of each for the whole run (starting them costs
seconds), shared by every module of tests/web that drives a browser."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.timetodo.test_server import ROOT, Release, base_environ, manage, scratch_database, start_release
from tests.web.browsing import CHROMIUM, Tab


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    tmp_path = tmp_path_factory.mktemp("browser")
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url) | {
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",  # plain http on localhost, which Chromium treats as secure
            "STATIC_ROOT": str(tmp_path / "static"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "THROTTLE_REGISTER_RATE": "1000/hour",
            "LOGIN_RATE": "1000/m",  # every test logs in from 127.0.0.1
        }
        manage(environ, "migrate", "--noinput", "-v0")
        collected = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert collected.returncode == 0, collected.stderr
        release = start_release("web", ROOT, environ, tmp_path)
        try:
            release.wait_healthy()
            yield release
        finally:
            release.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def tab(browser: Browser, server: Release) -> Iterator[Tab]:
    opened = Tab(browser, server)
    yield opened
    opened.close()
