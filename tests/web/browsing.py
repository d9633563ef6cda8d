"""What the browser tests share: a tab that records what must never happen, and the steps a
person takes (sign up, create a project, add a task, drag, open a board)."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, FloatRect, Locator, WebSocketRoute, expect

from tests.timetodo.test_deploy import api
from tests.timetodo.test_server import Release

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"needs Chromium at {CHROMIUM}: apt-get install chromium (CI does)"
)

PASSWORD = "browser-test-password-2026"
XSS = '<img src=x onerror=alert(1)><script>alert(2)</script>"onmouseover="alert(3)'


class Tab:
    """A page that records what must never happen: script dialogs, CSP refusals, page errors."""

    def __init__(self, browser: Browser, server: Release, **context: Any) -> None:
        self.base = f"http://localhost:{server.port}"
        self.context = browser.new_context(base_url=self.base, **context)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.problems: list[str] = []
        self.page.on("dialog", self.on_dialog)
        self.page.on("pageerror", self.on_page_error)
        self.page.on("console", self.on_console)

    def on_dialog(self, dialog: Dialog) -> None:
        self.problems.append(f"dialog: {dialog.message}")  # an alert() from a payload, say
        dialog.dismiss()

    def on_page_error(self, error: Error) -> None:
        self.problems.append(f"page error: {error}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP refusals and failed loads land here
            self.problems.append(f"console: {message.text}")

    def forgive(self, status: int) -> None:
        """The browser logs a refused request (an expected 412, say) as a console error."""
        self.problems = [p for p in self.problems if f"status of {status} " not in p]

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


def sign_up(tab: Tab, name: str) -> None:
    page = tab.page
    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/projects/")


def create_project(tab: Tab, name: str, key: str) -> str:
    page = tab.page
    page.get_by_label("Name").fill(name)
    page.get_by_label("Key").fill(key)
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/projects/*/")
    page.get_by_role("heading", level=2, name="To do").wait_for()
    return str(page.url)


def add_task(tab: Tab, column: str, title: str) -> None:
    cards = tab.page.get_by_role("list", name=column, exact=True).get_by_role("listitem")
    before = cards.count()
    tab.page.get_by_label(f"New task in {column}").fill(title)
    tab.page.get_by_label(f"New task in {column}").press("Enter")
    expect(cards).to_have_count(before + 1)


def column_cards(tab: Tab, column: str) -> list[str]:
    cards = tab.page.get_by_role("list", name=column, exact=True).get_by_role("listitem")
    return [cards.nth(index).get_attribute("aria-label") or "" for index in range(cards.count())]


class Line:
    """The page's socket, routed through Playwright so a test can cut it and refuse
    reconnections until `restore()`."""

    def __init__(self, tab: Tab) -> None:
        self.away = threading.Event()
        self.routes: list[WebSocketRoute] = []
        tab.page.route_web_socket(re.compile(r"/ws/$"), self.route)

    def route(self, socket: WebSocketRoute) -> None:
        if self.away.is_set():
            socket.close(code=1011, reason="refused by the test")
            return
        socket.connect_to_server()
        self.routes.append(socket)

    def cut(self) -> None:
        self.away.set()
        self.routes[-1].close(code=1011, reason="cut by the test")

    def restore(self) -> None:
        self.away.clear()


def box_of(locator: Locator) -> FloatRect:
    """Where the element is on the screen, once it is drawn. The board draws itself again when
    an event arrives (the socket's replay after a late subscription): an element measured just
    as it is replaced has no box yet, so measure again."""
    deadline = time.monotonic() + 10
    while True:
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        if box is not None:
            return box
        assert time.monotonic() < deadline, f"{locator} never got a box on the screen"
        time.sleep(0.05)


def drag(tab: Tab, card: str, column: str, meanwhile: Callable[[], None] | None = None) -> None:
    """Press on a card, move in small steps (SortableJS's pointer fallback) and drop it at
    the end of a column; `meanwhile` runs while the card is held over the column."""
    source = tab.page.get_by_role("listitem", name=card)
    target = tab.page.get_by_role("list", name=column, exact=True)
    start, end = box_of(source), box_of(target)
    x, y = start["x"] + start["width"] / 2, start["y"] + 12
    tab.page.mouse.move(x, y)
    tab.page.mouse.down()
    tab.page.mouse.move(x + 8, y + 8, steps=4)
    tab.page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 4, steps=25)
    if meanwhile is not None:
        meanwhile()
        tab.page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 6, steps=2)
    tab.page.mouse.up()


def task_id_of(tab: Tab, card: str) -> str:
    return str(tab.page.get_by_role("listitem", name=card).get_attribute("data-task"))


def member_tab(browser: Browser, server: Release, owner: str, project: str, name: str) -> Tab:
    """A second person, signed up in a browser of their own and made a member by the owner."""
    tab = Tab(browser, server)
    sign_up(tab, name)
    _, login = api(server.port, "POST", "/api/v1/auth/login/", {"username": owner, "password": PASSWORD})
    body = {"email": f"{name}@example.com", "role": "member"}
    status, added = api(server.port, "POST", f"/api/v1/projects/{project}/members/", body, login["access"])
    assert status == 201, added
    return tab


def owner_token(server: Release, owner: str) -> str:
    _, login = api(server.port, "POST", "/api/v1/auth/login/", {"username": owner, "password": PASSWORD})
    return str(login["access"])


def open_board(tab: Tab, board: str) -> None:
    tab.page.goto(board)
    expect(tab.page.locator("#live-state")).to_have_text("Live")


def live_board_of_my_own(tab: Tab, server: Release, name: str, key: str) -> tuple[str, str]:
    """Sign up, create a project, open its live board: the project's id and an API token."""
    sign_up(tab, name)
    board = create_project(tab, key.title(), key)
    open_board(tab, board)
    return board.rstrip("/").rsplit("/", 1)[1], owner_token(server, name)


def visible_cards(tab: Tab) -> list[str]:
    cards = tab.page.locator(".task-card")
    return sorted(cards.nth(index).get_attribute("aria-label") or "" for index in range(cards.count()))
