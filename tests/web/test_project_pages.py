"""Project settings, sprints with their charts, and the time report, in a real Chromium."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.timetodo.test_deploy import api
from tests.timetodo.test_server import Release
from tests.web.browsing import (
    XSS,
    Tab,
    column_cards,
    live_board_of_my_own,
    needs_chromium,
    sign_up,
)

pytestmark = needs_chromium


def rows(tab: Tab, name: str) -> list[str]:
    items = tab.page.get_by_role("list", name=name, exact=True).get_by_role("listitem")
    return [items.nth(i).get_attribute("aria-label") or "" for i in range(items.count())]


def status_says(tab: Tab, text: str) -> None:
    expect(tab.page.locator("#page-message")).to_have_text(text)


def test_settings_members_columns_and_labels(browser: Browser, server: Release, tab: Tab) -> None:
    newcomer = Tab(browser, server)
    sign_up(newcomer, "settingsbob")
    newcomer.close()
    project, token = live_board_of_my_own(tab, server, "settingsada", "SET")
    status, _ = api(server.port, "POST", "/api/v1/tasks/", {"project": project, "title": "Lives in Review"}, token)
    assert status == 201
    page = tab.page
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("heading", name="Members").wait_for()

    # Members: add by username, change the role, remove (a second press confirms).
    members = page.get_by_role("list", name="Members")
    expect(members.get_by_role("listitem")).to_have_count(1)
    page.get_by_label("Email or username").fill("SettingsBob")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    status_says(tab, "Added SettingsBob.")
    expect(members.get_by_role("listitem")).to_have_count(2)
    page.get_by_label("Role of settingsbob").select_option("member")
    status_says(tab, "settingsbob is now member.")
    page.get_by_label("Email or username").fill("nobody-by-that-name")
    page.get_by_role("button", name="Add member").click()
    status_says(tab, "username: No active user matches.")
    tab.forgive(400)
    page.get_by_role("button", name="Remove settingsbob").click()
    page.get_by_role("button", name="Really remove settingsbob? Press again to confirm").click()
    status_says(tab, "settingsbob is no longer a member.")
    expect(members.get_by_role("listitem")).to_have_count(1)

    # Columns: add with a WIP limit, reorder, rename, delete a non-empty one with move-to.
    adding = page.get_by_role("form", name="Add a column")
    adding.get_by_label("Column name").fill("QA")
    adding.get_by_label("WIP limit").fill("2")
    page.get_by_role("button", name="Add column").click()
    status_says(tab, "Added QA.")
    assert rows(tab, "Columns") == ["To do", "In progress", "Review", "Done", "QA"]
    page.get_by_role("button", name="Move QA left").click()
    status_says(tab, "Moved QA.")
    assert rows(tab, "Columns") == ["To do", "In progress", "Review", "QA", "Done"]
    page.get_by_role("form", name="Column QA").get_by_label("Name").fill(f"QA {XSS}")
    page.get_by_role("button", name="Save column QA").click()
    status_says(tab, f"Saved QA {XSS}.")
    page.get_by_role("button", name="Delete column To do").click()
    page.get_by_role("button", name="Really delete column To do? Press again to confirm").click()
    page.get_by_label("Move its tasks to").select_option(label="Review")  # (the first try was a 409)
    tab.forgive(409)
    page.get_by_role("button", name="Move tasks and delete To do").click()
    status_says(tab, "Deleted To do.")
    assert rows(tab, "Columns") == ["In progress", "Review", f"QA {XSS}", "Done"]

    # Labels: add, rename; the board shows the columns as they now are.
    page.get_by_label("Label name").fill("design")
    page.get_by_role("button", name="Add label").click()
    status_says(tab, "Added design.")
    page.get_by_role("form", name="Label design").get_by_label("Name").fill("ux")
    page.get_by_role("button", name="Save label design").click()
    status_says(tab, "Saved ux.")
    assert rows(tab, "Labels") == ["ux"]
    page.get_by_role("link", name="Board").click()
    page.get_by_role("heading", level=2, name="Review").wait_for()
    assert column_cards(tab, "Review") == ["SET-1 Lives in Review"]
    expect(page.get_by_role("heading", level=2, name=f"QA {XSS}")).to_contain_text("0 / 2")
    assert page.locator("img, #main script").count() == 0


def test_sprints_start_complete_and_draw_burndown_and_velocity(tab: Tab, server: Release) -> None:
    project, token = live_board_of_my_own(tab, server, "planner", "SPR")
    today = datetime.date.today()
    page = tab.page
    page.get_by_role("link", name="Sprints").click()
    page.get_by_label("Sprint name").fill("Sprint 1")
    page.get_by_label("Goal").fill("Ship the board")
    page.get_by_label("Starts").fill((today - datetime.timedelta(days=3)).isoformat())
    page.get_by_label("Ends").fill((today + datetime.timedelta(days=4)).isoformat())
    page.get_by_role("button", name="Create sprint").click()
    status_says(tab, "Created Sprint 1.")
    status, sprints = api(server.port, "GET", f"/api/v1/projects/{project}/sprints/", None, token)
    sprint = sprints["results"][0]["id"]
    for title, points in (("Small", 2), ("Large", 5)):
        body = {"project": project, "title": title, "story_points": points, "sprint": sprint}
        status, _ = api(server.port, "POST", "/api/v1/tasks/", body, token)
        assert status == 201
    page.get_by_role("button", name="Start Sprint 1").click()
    status_says(tab, "Started Sprint 1.")
    expect(page.get_by_role("listitem", name="Sprint 1")).to_contain_text("active")
    burndown = page.locator("#burndown svg")
    expect(burndown).to_have_attribute("role", "img")
    expect(page.locator("#burndown polyline.ideal")).to_have_count(1)
    expect(page.locator("#burndown polyline.remaining")).to_have_count(1)
    expect(page.locator("#burndown")).to_contain_text("total: 7 points")

    page.get_by_role("button", name="Complete Sprint 1").click()
    page.get_by_label("Move open tasks to").select_option(label="Backlog (no sprint)")
    page.get_by_role("button", name="Complete Sprint 1").last.click()
    status_says(tab, "Completed Sprint 1.")
    expect(page.get_by_role("listitem", name="Sprint 1")).to_contain_text("completed")
    expect(page.locator("#velocity rect.committed")).to_have_count(1)
    expect(page.locator("#velocity rect.completed")).to_have_count(1)
    page.locator("#velocity summary").click()
    expect(page.locator("#velocity table")).to_contain_text("Sprint 1")
    expect(page.locator("#velocity table tbody tr")).to_have_text(["Sprint 170"])
    status, open_tasks = api(server.port, "GET", f"/api/v1/tasks/?project={project}&sprint=none", None, token)
    assert open_tasks["count"] == 2  # moved to the backlog


def test_the_time_report_groups_a_range_and_downloads_csv(tab: Tab, server: Release) -> None:
    project, token = live_board_of_my_own(tab, server, "clocker", "TIM")
    status, task = api(server.port, "POST", "/api/v1/tasks/", {"project": project, "title": f"Billable {XSS}"}, token)
    assert status == 201
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    for hours_ago, minutes in ((30, 45), (2, 90)):
        started = now - datetime.timedelta(hours=hours_ago)
        body = {"task": task["id"], "started_at": started.isoformat(), "minutes": minutes}
        status, entry = api(server.port, "POST", "/api/v1/time-entries/", body, token)
        assert status == 201, entry
    page = tab.page
    page.get_by_role("link", name="Time", exact=True).click()
    table = page.locator("#report-table")
    expect(table.locator("tbody tr")).to_have_text(["clocker2 h 15 min135"])
    expect(table.locator("tfoot")).to_contain_text("2 h 15 min")
    page.get_by_label("By").select_option("task")
    page.get_by_role("button", name="Show").click()
    expect(table.locator("tbody th")).to_have_text([f"TIM-1 Billable {XSS}"])
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    content = list(csv.reader(Path(download.value.path()).read_text(encoding="utf-8").splitlines()))
    assert content == [["key", "label", "minutes"], [task["id"], f"TIM-1 Billable {XSS}", "135"]]
    # A range that ends before it starts: said, and neither old numbers nor a download remain.
    page.get_by_label("From").fill("2026-12-31")
    page.get_by_label("To").fill("2026-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#page-message")).to_contain_text("Could not load the report")
    expect(table).to_have_count(0)
    expect(page.get_by_role("link", name="Download CSV")).to_be_hidden()
    tab.forgive(400)
    assert page.locator("img, #main script").count() == 0
