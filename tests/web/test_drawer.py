"""The task drawer in a real Chromium: every field, comments, the history in words, the timer,
and other people's changes arriving while it is open."""

from __future__ import annotations

from playwright.sync_api import Browser, Route, expect

from tests.timetodo.test_deploy import api
from tests.timetodo.test_server import Release
from tests.web.browsing import (
    XSS,
    Tab,
    add_task,
    live_board_of_my_own,
    member_tab,
    needs_chromium,
    open_board,
    sign_up,
    task_id_of,
)

pytestmark = needs_chromium


def open_drawer(tab: Tab, card: str) -> None:
    tab.page.get_by_role("listitem", name=card).get_by_role("link").click()
    expect(tab.page.locator("#drawer")).to_be_visible()
    expect(tab.page.locator("#drawer-title")).to_contain_text(card.split(" ", 1)[1])


def drawer_says(tab: Tab, text: str) -> None:
    expect(tab.page.locator("#drawer-message")).to_have_text(text)


def history(tab: Tab) -> list[str]:
    items = tab.page.get_by_role("list", name="History").get_by_role("listitem")
    return [items.nth(i).locator("span").first.inner_text() for i in range(items.count())]


def test_edit_every_field_in_the_drawer_and_find_it_after_a_reload(tab: Tab, server: Release) -> None:
    project, token = live_board_of_my_own(tab, server, "editor", "EDT")
    status, label = api(
        server.port, "POST", f"/api/v1/projects/{project}/labels/", {"name": "bug", "color": "#cc0000"}, token
    )
    assert status == 201, label
    status, sprint = api(server.port, "POST", f"/api/v1/projects/{project}/sprints/", {"name": "Sprint 1"}, token)
    assert status == 201, sprint
    tab.page.reload()
    add_task(tab, "To do", "Parent task")
    add_task(tab, "To do", "Draft")
    open_drawer(tab, "EDT-2 Draft")
    page = tab.page
    drawer = page.locator("#drawer")
    drawer.get_by_label("Title").fill("Final")
    drawer.get_by_role("button", name="Edit description").click()
    drawer.get_by_label("Description", exact=True).fill(f"See https://example.com/spec.\nSecond line {XSS}")
    drawer.get_by_label("Priority").select_option("high")
    drawer.get_by_label("Assignee").select_option(label="editor (editor)")
    drawer.get_by_label("bug").check()
    drawer.get_by_label("Story points").fill("5")
    drawer.get_by_label("Estimate (minutes)").fill("90")
    drawer.get_by_label("Due date").fill("2030-01-31")
    drawer.get_by_label("Sprint").select_option(label="Sprint 1 (planned)")
    drawer.get_by_label("Parent task").select_option(label="EDT-1 Parent task")
    drawer.get_by_role("button", name="Save changes").click()
    drawer_says(tab, "Saved EDT-2.")
    # The card follows at once, and the description is text with a link, never markup.
    card = page.get_by_role("listitem", name="EDT-2 Final")
    expect(card).to_contain_text("5 pt")
    expect(card).to_contain_text("bug")
    expect(page.get_by_role("listitem", name="EDT-1 Parent task")).to_contain_text("1 subtask")
    description = page.locator("#drawer-description")
    expect(description.get_by_role("link", name="https://example.com/spec")).to_have_attribute(
        "href", "https://example.com/spec"
    )
    expect(description).to_contain_text(f"Second line {XSS}")
    assert page.locator("#drawer img, #drawer script").count() == 0

    page.reload()  # the address names the open task
    expect(page.locator("#drawer-title")).to_contain_text("Final")
    expect(drawer.get_by_label("Priority")).to_have_value("high")
    expect(drawer.get_by_label("Story points")).to_have_value("5")
    expect(drawer.get_by_label("Estimate (minutes)")).to_have_value("90")
    expect(drawer.get_by_label("Due date")).to_have_value("2030-01-31")
    expect(drawer.get_by_label("bug")).to_be_checked()
    expect(drawer.get_by_label("Sprint")).to_have_value(sprint["id"])
    words = history(tab)
    assert words[0].startswith("editor changed the title from “Draft” to “Final”"), words
    assert "edited the description" in words[0], words
    assert "assigned it to editor" in words[0], words
    assert words[-1] == "editor created EDT-2"
    page.keyboard.press("Escape")
    expect(page.locator("#drawer")).to_be_hidden()
    assert "task=" not in page.url


def test_comments_are_added_edited_and_deleted_as_text(tab: Tab, server: Release) -> None:
    live_board_of_my_own(tab, server, "commenter", "CMT")
    add_task(tab, "To do", "Discuss")
    open_drawer(tab, "CMT-1 Discuss")
    page = tab.page
    drawer = page.locator("#drawer")
    drawer.get_by_label("Add a comment").fill(f"First thought {XSS}")
    drawer.get_by_role("button", name="Comment", exact=True).click()
    comments = drawer.get_by_role("list", name="Comments").get_by_role("listitem")
    expect(comments).to_have_count(1)
    expect(comments.first).to_contain_text(f"First thought {XSS}")
    drawer.get_by_role("button", name="Edit your comment").click()
    drawer.get_by_label("Your comment").fill("Second thought, https://example.org/x")
    drawer.get_by_role("button", name="Save comment").click()
    expect(comments.first).to_contain_text("edited")
    expect(comments.first.get_by_role("link", name="https://example.org/x")).to_be_visible()
    drawer.get_by_role("button", name="Delete the comment by commenter").click()
    drawer.get_by_role("button", name="Really delete the comment by commenter? Press again to delete it").click()
    expect(comments).to_have_text(["No comments yet."])
    expect(drawer.get_by_role("list", name="History").get_by_role("listitem")).to_have_count(4)
    assert history(tab)[:3] == ["commenter deleted a comment", "commenter edited a comment", "commenter commented"]
    assert page.locator("#drawer img, #drawer script").count() == 0


def test_a_pending_delete_survives_a_comment_arriving(tab: Tab, server: Release) -> None:
    # The list is drawn again when someone comments; a "Really delete?" already pressed once
    # must stay armed (and focused) rather than be swapped for a fresh "Delete" button.
    _, token = live_board_of_my_own(tab, server, "armed", "ARM")
    add_task(tab, "To do", "Talk")
    task = task_id_of(tab, "ARM-1 Talk")
    status, mine = api(server.port, "POST", f"/api/v1/tasks/{task}/comments/", {"body": "mine"}, token)
    assert status == 201, mine
    open_drawer(tab, "ARM-1 Talk")
    drawer = tab.page.locator("#drawer")
    comments = drawer.get_by_role("list", name="Comments").get_by_role("listitem")
    expect(comments).to_have_count(1)
    drawer.get_by_role("button", name="Delete the comment by armed").click()
    armed = drawer.get_by_role("button", name="Really delete the comment by armed? Press again to delete it")
    expect(armed).to_be_focused()
    status, other = api(server.port, "POST", f"/api/v1/tasks/{task}/comments/", {"body": "arrives"}, token)
    assert status == 201, other
    expect(comments).to_have_count(2)
    expect(armed).to_be_focused()
    armed.click()
    expect(comments).to_have_count(1)
    expect(comments.first).to_contain_text("arrives")


def test_the_history_says_moves_in_words_and_the_timer_counts_time(tab: Tab, server: Release) -> None:
    live_board_of_my_own(tab, server, "mover", "MOV")
    add_task(tab, "To do", "Travel")
    tab.page.get_by_label("Move MOV-1 to").select_option(label="Review")
    expect(tab.page.locator("#board-message")).to_have_text("Moved MOV-1 to Review.")
    open_drawer(tab, "MOV-1 Travel")
    assert history(tab)[0] == "mover moved MOV-1 from To do to Review"
    page = tab.page
    drawer = page.locator("#drawer")
    expect(page.locator("#spent")).to_have_text("Spent: 0 min")
    drawer.get_by_role("button", name="Start the timer").click()
    drawer_says(tab, "Timer started.")
    expect(page.locator("#drawer-time")).to_contain_text("Your timer is running since")
    drawer.get_by_role("button", name="Stop the timer").click()
    drawer_says(tab, "Timer stopped: 0 min logged.")
    expect(drawer.get_by_role("button", name="Start the timer")).to_be_visible()
    expect(drawer.get_by_role("list", name="History").get_by_role("listitem").first).to_contain_text("mover")


def test_the_open_drawer_shows_someone_elses_change_and_a_stale_save_is_refused(
    browser: Browser, server: Release
) -> None:
    ada = Tab(browser, server)
    project, token = live_board_of_my_own(ada, server, "drawerada", "DRA")
    add_task(ada, "To do", "Shared")
    task = task_id_of(ada, "DRA-1 Shared")
    bob = member_tab(browser, server, "drawerada", project, "drawerbob")
    try:
        open_board(bob, f"/projects/{project}/?task={task}")
        expect(bob.page.locator("#drawer-title")).to_contain_text("Shared")
        # Someone else's change while Bob only reads: the drawer shows it.
        status, _ = api(server.port, "PATCH", f"/api/v1/tasks/{task}/", {"title": "Renamed by Ada"}, token)
        assert status == 200
        expect(bob.page.locator("#drawer-title")).to_contain_text("Renamed by Ada")
        expect(bob.page.locator("#drawer").get_by_label("Title")).to_have_value("Renamed by Ada")
        # While Bob edits: his form is kept, he is told, and his save shows Ada's version.
        bob.page.locator("#drawer").get_by_label("Title").fill("Bob's title")
        status, _ = api(server.port, "PATCH", f"/api/v1/tasks/{task}/", {"priority": "urgent"}, token)
        assert status == 200
        expect(bob.page.locator("#drawer-message")).to_contain_text("changed DRA-1 while you were editing")
        expect(bob.page.locator("#drawer").get_by_label("Title")).to_have_value("Bob's title")
        bob.page.locator("#drawer").get_by_role("button", name="Save changes").click()
        expect(bob.page.locator("#drawer-message")).to_contain_text("Your changes were not saved")
        expect(bob.page.locator("#drawer").get_by_label("Priority")).to_have_value("urgent")
        expect(bob.page.locator("#drawer").get_by_label("Title")).to_have_value("Renamed by Ada")
        bob.forgive(412)
        # Deleted elsewhere: the drawer says so.
        status, _ = api(server.port, "DELETE", f"/api/v1/tasks/{task}/", None, token)
        assert status == 204
        expect(bob.page.locator("#drawer-body")).to_contain_text("deleted DRA-1")
        expect(bob.page.get_by_role("listitem", name="DRA-1 Renamed by Ada")).to_have_count(0)
    finally:
        bob.close()
        ada.close()


def test_a_viewer_reads_the_drawer_without_edit_controls_and_may_comment(browser: Browser, server: Release) -> None:
    owner = Tab(browser, server)
    project, token = live_board_of_my_own(owner, server, "drawerowner", "DRV")
    add_task(owner, "To do", "Read me")
    viewer = member_tab(browser, server, "drawerowner", project, "drawerviewer")
    try:
        status, _ = api(
            server.port,
            "PATCH",
            f"/api/v1/projects/{project}/members/{user_id(server, token, project, 'drawerviewer')}/",
            {"role": "viewer"},
            token,
        )
        assert status == 200
        open_board(viewer, f"/projects/{project}/")
        open_drawer(viewer, "DRV-1 Read me")
        page = viewer.page
        drawer = page.locator("#drawer")
        expect(page.locator("#task-form")).to_have_count(0)
        expect(page.locator("#drawer .details")).to_contain_text("Priority")
        expect(drawer.get_by_role("button", name="Start the timer")).to_have_count(0)
        drawer.get_by_label("Add a comment").fill("A viewer's remark")
        drawer.get_by_role("button", name="Comment", exact=True).click()
        expect(drawer.get_by_role("list", name="Comments").get_by_role("listitem")).to_contain_text(
            ["A viewer's remark"]
        )
    finally:
        viewer.close()
        owner.close()


def user_id(server: Release, token: str, project: str, username: str) -> str:
    status, members = api(server.port, "GET", f"/api/v1/projects/{project}/members/", None, token)
    assert status == 200
    return next(m["user"] for m in members["results"] if m["user_detail"]["username"] == username)


def test_the_drawer_keeps_what_the_person_is_doing_while_others_change_things(
    browser: Browser, server: Release
) -> None:
    ada = Tab(browser, server)
    project, token = live_board_of_my_own(ada, server, "keepada", "KEP")
    bob = member_tab(browser, server, "keepada", project, "keepbob")
    try:
        status, sprint = api(server.port, "POST", f"/api/v1/projects/{project}/sprints/", {"name": "Now"}, token)
        assert status == 201
        bob_id = user_id(server, token, project, "keepbob")
        body = {"project": project, "title": "Kept", "assignee": bob_id, "sprint": sprint["id"]}
        status, task = api(server.port, "POST", "/api/v1/tasks/", body, token)
        assert status == 201
        open_board(bob, f"/projects/{project}/?task={task['id']}")
        drawer = bob.page.locator("#drawer")
        expect(drawer.get_by_label("Assignee")).to_have_value(bob_id)
        drawer.get_by_label("Add a comment").fill("Half a thought")
        # A new member (the lists are read again), then a change to the task (the drawer redraws).
        newcomer = Tab(browser, server)
        sign_up(newcomer, "keepcarol")
        newcomer.close()
        status, _ = api(server.port, "POST", f"/api/v1/projects/{project}/members/", {"username": "keepcarol"}, token)
        assert status == 201
        status, _ = api(server.port, "PATCH", f"/api/v1/tasks/{task['id']}/", {"title": "Kept, renamed"}, token)
        assert status == 200
        expect(drawer.get_by_label("Title")).to_have_value("Kept, renamed")
        expect(drawer.get_by_label("Add a comment")).to_have_value("Half a thought")
        expect(drawer.get_by_label("Assignee")).to_have_value(bob_id)
        expect(drawer.get_by_label("Sprint")).to_have_value(sprint["id"])
        # Someone logs time on it: the time spent follows.
        start = "2026-01-05T09:00:00+00:00"
        status, _ = api(
            server.port,
            "POST",
            "/api/v1/time-entries/",
            {"task": task["id"], "started_at": start, "minutes": 25},
            token,
        )
        assert status == 201
        expect(bob.page.locator("#spent")).to_have_text("Spent: 25 min")
        # Bob saves a priority: nothing else he did not touch changes.
        drawer.get_by_label("Priority").select_option("low")
        drawer.get_by_role("button", name="Save changes").click()
        expect(bob.page.locator("#drawer-message")).to_have_text("Saved KEP-1.")
        status, saved = api(server.port, "GET", f"/api/v1/tasks/{task['id']}/", None, token)
        assert (saved["priority"], saved["assignee"], saved["sprint"]) == ("low", bob_id, sprint["id"])
        # A draft is not thrown away by one Escape.
        bob.page.keyboard.press("Escape")
        expect(bob.page.locator("#drawer-message")).to_contain_text("You have unsaved changes in KEP-1")
        expect(drawer).to_be_visible()
        bob.page.keyboard.press("Escape")
        expect(drawer).to_be_hidden()
    finally:
        bob.close()
        ada.close()


def test_opening_a_second_task_before_the_first_has_loaded_shows_the_second(tab: Tab, server: Release) -> None:
    live_board_of_my_own(tab, server, "quickclicker", "QCK")
    add_task(tab, "To do", "Slow one")
    add_task(tab, "To do", "Quick one")
    slow = task_id_of(tab, "QCK-1 Slow one")
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)  # answered later, below

    tab.page.route(f"**/api/v1/tasks/{slow}/", hold)
    tab.page.get_by_role("listitem", name="QCK-1 Slow one").get_by_role("link").click()
    tab.page.get_by_role("listitem", name="QCK-2 Quick one").get_by_role("link").click()
    expect(tab.page.locator("#drawer-title")).to_contain_text("Quick one")
    assert len(held) == 1
    held[0].continue_()
    tab.page.wait_for_timeout(500)  # the slow answer lands now, and must change nothing
    expect(tab.page.locator("#drawer-title")).to_contain_text("Quick one")
    assert "task=" + task_id_of(tab, "QCK-2 Quick one") in tab.page.url


def a_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 200), (20, 160, 90)).save(out, format="PNG")
    return out.getvalue()


def test_attach_a_file_in_the_drawer_and_see_it_on_a_second_users_open_board(browser: Browser, server: Release) -> None:
    ada = Tab(browser, server)
    project, _ = live_board_of_my_own(ada, server, "fileada", "FIL")
    add_task(ada, "To do", "With files")
    bob = member_tab(browser, server, "fileada", project, "filebob")
    try:
        open_board(bob, f"/projects/{project}/")
        open_drawer(ada, "FIL-1 With files")
        drawer = ada.page.locator("#drawer")
        name = "plan <img src=x onerror=alert(1)> é.png"  # (no slash: only the last path part is kept)
        drawer.get_by_label("Attach a file").set_input_files({"name": name, "mimeType": "text/html", "buffer": a_png()})
        drawer.get_by_role("button", name="Attach", exact=True).click()
        drawer_says(ada, f"Attached {name}.")
        files = drawer.get_by_role("list", name="Files")
        link = files.get_by_role("link", name=name)
        expect(link).to_be_visible()
        assert ada.page.locator("#drawer script").count() == 0
        # The worker makes the thumbnail; the drawer shows it once it is there.
        expect(files.locator("img.thumbnail")).to_be_visible(timeout=20_000)
        expect(drawer.get_by_role("list", name="History").get_by_role("listitem").first).to_contain_text(
            f"attached {name}"
        )
        # Bob's open board counts the file at once, and Bob may download it (as a download).
        bob_card = bob.page.get_by_role("listitem", name="FIL-1 With files")
        expect(bob_card).to_contain_text("1 file")
        href = link.get_attribute("href")
        assert href is not None
        download = bob.page.request.get(href)
        assert download.status == 200
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["content-type"] == "image/png"
        assert download.body() == a_png()
        # A refused type is said, and nothing is attached.
        drawer.get_by_label("Attach a file").set_input_files(
            {"name": "page.html", "mimeType": "text/html", "buffer": b"<html><script>alert(1)</script></html>"}
        )
        drawer.get_by_role("button", name="Attach", exact=True).click()
        expect(ada.page.locator("#drawer-message")).to_contain_text("HTML and SVG files are not accepted")
        ada.forgive(415)
        expect(files.get_by_role("listitem")).to_have_count(1)
        # Removing it (press twice): both boards follow.
        drawer.get_by_role("button", name=f"Remove the file {name}").click()
        drawer.get_by_role("button", name=f"Really remove the file {name}? Press again to confirm").click()
        drawer_says(ada, f"Removed {name}.")
        expect(files).to_contain_text("No files yet.")
        expect(bob_card).not_to_contain_text("1 file")
        expect(ada.page.get_by_role("listitem", name="FIL-1 With files")).not_to_contain_text("1 file")
    finally:
        bob.close()
        ada.close()
