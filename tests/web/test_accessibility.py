"""Every page of the web app through axe-core (Deque's accessibility engine, the WCAG 2 A/AA
rules) in a real Chromium: no violation, on the pages as a person sees them."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.timetodo.test_deploy import api
from tests.timetodo.test_server import Release
from tests.web.browsing import Tab, add_task, live_board_of_my_own, needs_chromium

pytestmark = needs_chromium

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def violations(tab: Tab) -> list[dict[str, Any]]:
    results = Axe().run(tab.page, options=WCAG)
    return [
        {"rule": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
    ]


@pytest.mark.parametrize("path", ["/", "/login/", "/signup/"])
def test_the_pages_before_log_in(tab: Tab, path: str) -> None:
    tab.page.goto(path)
    assert violations(tab) == []


def test_the_pages_of_a_project(tab: Tab, server: Release) -> None:
    project, token = live_board_of_my_own(tab, server, "axeuser", "AXE")
    api(server.port, "POST", f"/api/v1/projects/{project}/labels/", {"name": "bug", "color": "#cc0000"}, token)
    api(server.port, "POST", f"/api/v1/projects/{project}/sprints/", {"name": "Sprint 1"}, token)
    tab.page.reload()
    add_task(tab, "To do", "Check me")
    page = tab.page
    assert violations(tab) == [], "board"
    page.get_by_role("listitem", name="AXE-1 Check me").get_by_role("link").click()
    expect(page.get_by_role("list", name="History").get_by_role("listitem").first).to_be_visible()
    assert violations(tab) == [], "drawer"
    for tab_name, ready in (("Sprints", "#sprint-list li"), ("Time", "#report-table"), ("Settings", "#label-list li")):
        page.get_by_role("link", name=tab_name, exact=True).click()
        page.locator(ready).first.wait_for()
        assert violations(tab) == [], tab_name
    page.goto("/projects/")
    assert violations(tab) == [], "projects"


def test_the_check_finds_what_it_is_for(tab: Tab) -> None:
    """The engine runs and sees: a field without a label, added to a page, is a violation."""
    tab.page.goto("/login/")
    tab.page.evaluate("document.querySelector('main').append(document.createElement('input'))")
    assert [v["rule"] for v in violations(tab)] == ["label"]
