"""Take the README's screenshots from the real app: a scratch SQLite database with the demo
(`manage.py seed_demo`), the server as the container starts it, and Debian's Chromium.

    .venv/bin/python docs/screenshots/take.py      # writes docs/screenshots/*.png
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timetodo.settings")  # the test helpers import Django's
os.environ.setdefault("DEBUG", "1")  # (this process only; the server gets its own environment)

import django  # noqa: E402

django.setup()

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright  # noqa: E402

from tests.timetodo.test_server import ROOT, base_environ, manage, start_release  # noqa: E402
from tests.web.browsing import CHROMIUM  # noqa: E402

PASSWORD = "screenshot-demo-2026"  # noqa: S105 (a scratch database, deleted after)
SIZE: ViewportSize = {"width": 1360, "height": 820}


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    page.wait_for_timeout(300)  # let the last frame paint
    page.screenshot(path=str(HERE / f"{name}.png"), full_page=full_page)
    print(f"wrote docs/screenshots/{name}.png")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        environ = base_environ(f"sqlite:///{tmp / 'demo.sqlite3'}") | {
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "STATIC_ROOT": str(tmp / "static"),
        }
        manage(environ, "migrate", "--noinput", "-v0")
        manage(environ, "collectstatic", "--noinput", "-v0")
        manage(environ, "seed_demo", "--password", PASSWORD)
        release = start_release("screenshots", ROOT, environ, tmp)
        try:
            release.wait_healthy()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(base_url=f"http://localhost:{release.port}", viewport=SIZE)
                page.goto("/")
                shoot(page, "landing")
                page.goto("/login/")
                page.get_by_label("Username").fill("demo-ada")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.get_by_role("link", name="Demo: launch Time to DO").click()
                expect(page.locator("#live-state")).to_have_text("Live")
                shoot(page, "board")
                page.get_by_role("listitem", name="DEMO-1 Sketch the board layout").get_by_role("link").click()
                expect(page.get_by_role("list", name="History").get_by_role("listitem").first).to_be_visible()
                shoot(page, "drawer")
                page.get_by_role("link", name="Sprints").click()
                expect(page.locator("#velocity svg")).to_be_visible()
                expect(page.locator("#burndown svg")).to_be_visible()
                shoot(page, "sprints", full_page=True)
                browser.close()
        finally:
            release.stop()


if __name__ == "__main__":
    main()
