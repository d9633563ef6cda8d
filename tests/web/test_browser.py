"""The web app in a real Chromium (Debian's package, driven by Playwright) against the server
as the container starts it (`python -m timetodo.serve`, DEBUG off, collected static files).

Skipped, saying why, where Chromium is missing; `.ci/run` installs it.
"""

from __future__ import annotations

import re
import signal
import time

from playwright.sync_api import Browser, Response, expect

from tests.timetodo.test_deploy import api
from tests.timetodo.test_server import Release
from tests.web.browsing import (
    PASSWORD,
    XSS,
    Line,
    Tab,
    add_task,
    column_cards,
    create_project,
    drag,
    live_board_of_my_own,
    member_tab,
    needs_chromium,
    open_board,
    owner_token,
    sign_up,
    task_id_of,
    visible_cards,
)

pytestmark = needs_chromium


def test_sign_up_create_a_project_add_tasks_and_find_them_after_a_reload(tab: Tab) -> None:
    sign_up(tab, "newcomer")
    board = create_project(tab, "Website", "WEB")
    add_task(tab, "To do", "Write the landing copy")
    add_task(tab, "To do", XSS)
    assert column_cards(tab, "To do") == ["WEB-1 Write the landing copy", f"WEB-2 {XSS}"]
    tab.page.reload()
    tab.page.get_by_role("heading", level=2, name="To do").wait_for()
    assert column_cards(tab, "To do") == ["WEB-1 Write the landing copy", f"WEB-2 {XSS}"]
    # The payload is text: no element came from it, no script ran (Tab.close checks dialogs).
    assert tab.page.locator(".task-card img, .task-card script").count() == 0
    assert tab.page.get_by_text(XSS, exact=True).count() == 1
    tab.page.goto("/projects/")
    assert tab.page.get_by_role("link", name="WEB Website").get_attribute("href") == board.removeprefix(tab.base)


def test_log_out_and_back_in_lands_where_the_user_wanted(tab: Tab) -> None:
    sign_up(tab, "returner")
    board = create_project(tab, "Return", "RET")
    tab.page.get_by_role("button", name="Log out").click()
    tab.page.wait_for_url(tab.base + "/")
    tab.page.goto(board)
    tab.page.wait_for_url(re.compile(r"/login/\?next=/projects/"))
    tab.page.get_by_label("Username or email").fill("returner")
    tab.page.get_by_label("Password").fill("not the password")
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.get_by_role("alert").wait_for()
    tab.page.get_by_label("Password").fill(PASSWORD)
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.wait_for_url(board)
    tab.page.get_by_role("heading", level=2, name="Done").wait_for()


def test_the_board_fits_a_360_px_phone_its_columns_scroll(browser: Browser, server: Release) -> None:
    phone = Tab(browser, server, viewport={"width": 360, "height": 740})
    try:
        sign_up(phone, "phoneuser")
        board = create_project(phone, "Phone", "PHN")
        # Long unbroken names, within the API's limits, wrap instead of widening the page.
        project, token = board.rstrip("/").rsplit("/", 1)[1], owner_token(server, "phoneuser")
        api(server.port, "POST", f"/api/v1/projects/{project}/labels/", {"name": "x" * 50, "color": "#123456"}, token)
        api(server.port, "POST", f"/api/v1/projects/{project}/sprints/", {"name": "y" * 100}, token)
        api(server.port, "POST", "/api/v1/tasks/", {"project": project, "title": "z" * 255, "story_points": 1}, token)
        phone.page.reload()
        phone.page.get_by_role("heading", level=2, name="To do").wait_for()
        assert phone.page.evaluate(OVERFLOW) <= 0
        board_scrolls = phone.page.evaluate(
            "(() => { const b = document.getElementById('board'); return b.scrollWidth > b.clientWidth; })()"
        )
        assert board_scrolls
        add_task(phone, "To do", "On the go")
        phone.page.get_by_role("listitem", name="PHN-2 On the go").get_by_role("link").click()
        phone.page.get_by_role("list", name="History").get_by_role("listitem").first.wait_for()
        assert phone.page.evaluate(OVERFLOW) <= 0, "drawer"
        assert phone.page.locator("#drawer").bounding_box() == {"x": 0, "y": 0, "width": 360, "height": 740}
        for tab_name, ready in (
            ("Sprints", "#sprint-list li"),
            ("Time", "#report-table"),
            ("Settings", "#label-list li"),
        ):
            phone.page.goto(phone.page.url.split("?")[0])
            phone.page.get_by_role("link", name=tab_name, exact=True).click()
            phone.page.locator(ready).first.wait_for()
            assert phone.page.evaluate(OVERFLOW) <= 0, tab_name
    finally:
        phone.close()


OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_a_viewer_sees_the_board_without_edit_controls(browser: Browser, server: Release) -> None:
    owner = Tab(browser, server)
    viewer = Tab(browser, server)
    try:
        sign_up(owner, "boardowner")
        board = create_project(owner, "Shared", "SHR")
        add_task(owner, "To do", "Read me")
        sign_up(viewer, "onlylooks")
        status, login = api(
            server.port, "POST", "/api/v1/auth/login/", {"username": "boardowner", "password": PASSWORD}
        )
        assert status == 200, login
        project = board.rstrip("/").rsplit("/", 1)[1]
        body = {"email": "onlylooks@example.com", "role": "viewer"}
        status, added = api(server.port, "POST", f"/api/v1/projects/{project}/members/", body, login["access"])
        assert status == 201, added
        viewer.page.goto(board)
        viewer.page.get_by_role("heading", level=2, name="To do").wait_for()
        assert column_cards(viewer, "To do") == ["SHR-1 Read me"]
        assert viewer.page.get_by_label("New task in To do").count() == 0
        assert viewer.page.get_by_label("Move SHR-1 to").count() == 0
        assert viewer.page.evaluate("typeof Sortable") == "undefined"  # no dragging either
        viewer.page.goto("/projects/")
        viewer.page.get_by_text("viewer · 1 task · 2 members").wait_for()
    finally:
        owner.close()
        viewer.close()


def test_drag_a_card_to_another_column_and_it_stays_there(tab: Tab) -> None:
    sign_up(tab, "dragger")
    create_project(tab, "Drag", "DRG")
    add_task(tab, "To do", "First")
    add_task(tab, "To do", "Second")
    drag(tab, "DRG-1 First", "Review")
    expect(tab.page.get_by_role("status")).to_have_text("Moved DRG-1 to Review.")
    assert column_cards(tab, "Review") == ["DRG-1 First"]
    tab.page.reload()
    tab.page.get_by_role("heading", level=2, name="Review").wait_for()
    assert column_cards(tab, "Review") == ["DRG-1 First"]
    assert column_cards(tab, "To do") == ["DRG-2 Second"]


def test_a_change_arriving_mid_drag_is_drawn_after_the_drop(tab: Tab, server: Release) -> None:
    # Drawing the board replaces its cards: done under the pointer it would drop the drag.
    _, token = live_board_of_my_own(tab, server, "holder", "HLD")
    add_task(tab, "To do", "First")
    add_task(tab, "To do", "Second")
    second = task_id_of(tab, "HLD-2 Second")

    def someone_renames_second() -> None:
        status, body = api(server.port, "PATCH", f"/api/v1/tasks/{second}/", {"title": "Renamed"}, token)
        assert status == 200, body
        # The event has arrived (the board knows it) while the card is still held.
        tab.page.wait_for_function(f"window.TTD.board.state.tasks.get('{second}').title === 'Renamed'")
        expect(tab.page.get_by_role("listitem", name="HLD-2 Second")).to_be_visible()

    drag(tab, "HLD-1 First", "Review", meanwhile=someone_renames_second)
    expect(tab.page.get_by_role("status")).to_have_text("Moved HLD-1 to Review.")
    assert column_cards(tab, "Review") == ["HLD-1 First"]
    expect(tab.page.get_by_role("listitem", name="HLD-2 Renamed")).to_be_visible()


def test_a_card_moves_without_a_mouse(tab: Tab) -> None:
    sign_up(tab, "keyboarder")
    create_project(tab, "Keys", "KEY")
    add_task(tab, "To do", "By keyboard")
    tab.page.get_by_label("Move KEY-1 to").select_option(label="Done")
    expect(tab.page.get_by_role("status")).to_have_text("Moved KEY-1 to Done.")
    tab.page.reload()
    tab.page.get_by_role("heading", level=2, name="Done").wait_for()
    assert column_cards(tab, "Done") == ["KEY-1 By keyboard"]


def test_a_move_of_a_card_someone_else_changed_goes_back_and_says_why(tab: Tab, server: Release) -> None:
    """The other change has not reached this page (its socket is cut): the move carries a
    stale version and is refused."""
    line = Line(tab)
    sign_up(tab, "slowpoke")
    board = create_project(tab, "Race", "RCE")
    add_task(tab, "To do", "Contended")
    open_board(tab, board)
    line.cut()
    task = task_id_of(tab, "RCE-1 Contended")
    credentials = {"username": "slowpoke", "password": PASSWORD}
    _, login = api(server.port, "POST", "/api/v1/auth/login/", credentials)
    status, _ = api(server.port, "PATCH", f"/api/v1/tasks/{task}/", {"title": "Changed elsewhere"}, login["access"])
    assert status == 200
    drag(tab, "RCE-1 Contended", "Done")
    expect(tab.page.get_by_role("status")).to_contain_text("Someone else changed RCE-1 meanwhile")
    assert column_cards(tab, "To do") == ["RCE-1 Changed elsewhere"]  # the truth: not moved, new title
    assert column_cards(tab, "Done") == []
    tab.forgive(412)


def test_two_people_on_one_board_see_each_others_changes_within_a_second(browser: Browser, server: Release) -> None:
    ada = Tab(browser, server)
    sign_up(ada, "liveada")
    board = create_project(ada, "Live", "LIV")
    project = board.rstrip("/").rsplit("/", 1)[1]
    grace = member_tab(browser, server, "liveada", project, "livegrace")
    try:
        add_task(ada, "To do", "Seen by both")
        open_board(grace, board)
        open_board(ada, board)
        # A move in one tab appears in the other, no reload.
        drag(ada, "LIV-1 Seen by both", "In progress")
        in_progress = grace.page.get_by_role("list", name="In progress", exact=True).get_by_role("listitem")
        expect(in_progress).to_have_count(1, timeout=1000)
        # A new task, and its edit through the API, appear too; and the writer's own tab
        # shows its change once (its answer and its event are the same version).
        add_task(grace, "To do", "From Grace")
        expect(ada.page.get_by_role("listitem", name="LIV-2 From Grace")).to_have_count(1, timeout=1000)
        task = task_id_of(ada, "LIV-2 From Grace")
        token = owner_token(server, "liveada")
        status, _ = api(server.port, "PATCH", f"/api/v1/tasks/{task}/", {"title": "Renamed"}, token)
        assert status == 200
        for tab in (ada, grace):
            expect(tab.page.get_by_role("listitem", name="LIV-2 Renamed")).to_have_count(1, timeout=1000)
        # A deletion disappears.
        status, _ = api(server.port, "DELETE", f"/api/v1/tasks/{task}/", None, token)
        assert status == 204
        expect(grace.page.get_by_role("listitem", name="LIV-2 Renamed")).to_have_count(0, timeout=1000)
        assert column_cards(grace, "To do") == []
    finally:
        ada.close()
        grace.close()


def test_a_dropped_socket_reconnects_and_misses_nothing(browser: Browser, server: Release) -> None:
    """The page's socket is cut and its reconnections refused for a while; changes made
    meanwhile arrive after the automatic reconnect, in order."""
    tab = Tab(browser, server)
    line = Line(tab)
    try:
        project, token = live_board_of_my_own(tab, server, "dropped", "DRP")
        line.cut()
        expect(tab.page.locator("#live-state")).to_have_text("Reconnecting…")
        for number in range(1, 4):
            status, _ = api(
                server.port, "POST", "/api/v1/tasks/", {"project": project, "title": f"Away {number}"}, token
            )
            assert status == 201
        assert column_cards(tab, "To do") == []  # nothing can arrive yet
        line.restore()
        expect(tab.page.locator("#live-state")).to_have_text("Live", timeout=15_000)
        cards = tab.page.get_by_role("list", name="To do", exact=True).get_by_role("listitem")
        expect(cards).to_have_count(3, timeout=5000)
        assert column_cards(tab, "To do") == [f"DRP-{n} Away {n}" for n in range(1, 4)]
    finally:
        tab.close()


def test_a_restart_while_the_board_is_open_reconnects_to_the_new_process(browser: Browser, server: Release) -> None:
    tab = Tab(browser, server)
    sockets: list[object] = []
    tab.page.on("websocket", lambda socket: sockets.append(socket))
    try:
        project, token = live_board_of_my_own(tab, server, "restarted", "RST")
        opened = len(sockets)
        drained = server.log.read_text().count("drained in")
        server.process.send_signal(signal.SIGHUP)  # the old process closes the socket with 1012
        deadline = time.monotonic() + 60
        while server.log.read_text().count("drained in") == drained or len(sockets) == opened:
            assert time.monotonic() < deadline, server.log.read_text()
            tab.page.wait_for_timeout(100)  # (Playwright delivers the page's events while it waits)
        expect(tab.page.locator("#live-state")).to_have_text("Live", timeout=15_000)
        status, _ = api(server.port, "POST", "/api/v1/tasks/", {"project": project, "title": "After"}, token)
        assert status == 201
        expect(tab.page.get_by_role("listitem", name="RST-1 After")).to_have_count(1, timeout=1000)
    finally:
        tab.close()


def test_filters_narrow_the_board_without_a_reload_and_apply_to_live_changes(tab: Tab, server: Release) -> None:
    project, token = live_board_of_my_own(tab, server, "filterer", "FLT")
    _, login = api(server.port, "POST", "/api/v1/auth/login/", {"username": "filterer", "password": PASSWORD})
    me = login["user"]["id"]
    bug = {"name": "bug", "color": "#d03030"}
    status, label = api(server.port, "POST", f"/api/v1/projects/{project}/labels/", bug, token)
    assert status == 201, label
    tasks = [
        {"project": project, "title": "Alpha fix", "assignee": me, "labels": [label["id"]]},
        {"project": project, "title": "Beta docs", "priority": "high", "description": "mentions alpha"},
        {"project": project, "title": "Gamma"},
    ]
    for body in tasks:
        status, created = api(server.port, "POST", "/api/v1/tasks/", body, token)
        assert status == 201, created
    expect(tab.page.locator(".task-card")).to_have_count(3)
    tab.page.reload()  # (the label list is read with the board)
    expect(tab.page.locator("#live-state")).to_have_text("Live")
    requests: list[str] = []
    tab.page.on("request", lambda request: requests.append(request.url))

    tab.page.get_by_label("Text").fill("alpha")  # title or description
    assert visible_cards(tab) == ["FLT-1 Alpha fix", "FLT-2 Beta docs"]
    expect(tab.page.get_by_role("heading", level=2, name="To do")).to_contain_text("2 of 3")
    tab.page.get_by_label("Text").fill("")
    tab.page.get_by_label("Only my tasks").check()
    assert visible_cards(tab) == ["FLT-1 Alpha fix"]
    tab.page.get_by_label("Only my tasks").uncheck()
    tab.page.get_by_label("Priority").select_option("high")
    assert visible_cards(tab) == ["FLT-2 Beta docs"]
    tab.page.get_by_label("Priority").select_option("")
    tab.page.get_by_label("Label", exact=True).select_option(label="bug")
    assert visible_cards(tab) == ["FLT-1 Alpha fix"]
    assert requests == []  # all of it without a request

    # A change arriving live is filtered too.
    status, _ = api(server.port, "POST", "/api/v1/tasks/", {"project": project, "title": "Delta, no label"}, token)
    assert status == 201
    body = {"project": project, "title": "Epsilon bug", "labels": [label["id"]]}
    status, _ = api(server.port, "POST", "/api/v1/tasks/", body, token)
    assert status == 201
    expect(tab.page.locator(".task-card")).to_have_count(2, timeout=1000)
    assert visible_cards(tab) == ["FLT-1 Alpha fix", "FLT-5 Epsilon bug"]


def test_a_200_task_board_is_drawn_from_one_board_request(tab: Tab, server: Release) -> None:
    project, token = live_board_of_my_own(tab, server, "bigboard", "BIG")
    for n in range(200):
        status, _ = api(server.port, "POST", "/api/v1/tasks/", {"project": project, "title": f"Task {n + 1}"}, token)
        assert status == 201
    requests: list[str] = []
    tab.page.on("request", lambda request: requests.append(request.url))
    tab.page.reload()
    expect(tab.page.locator(".task-card")).to_have_count(200)
    expect(tab.page.locator("#live-state")).to_have_text("Live")
    api_calls = sorted(url.split("/api/v1/", 1)[1] for url in requests if "/api/v1/" in url)
    assert api_calls == [f"projects/{project}/board/", f"projects/{project}/labels/?page_size=100"]
    # The drawer of one of them, with the other 199 offered as its parent.
    tab.page.get_by_role("listitem", name="BIG-200 Task 200").get_by_role("link").click()
    expect(tab.page.locator("#f-parent option")).to_have_count(200)


def test_the_board_revalidates_with_its_etag_when_it_reads_again(tab: Tab, server: Release) -> None:
    boards: list[tuple[str | None, str | None]] = []

    def seen(response: Response) -> None:
        if response.url.endswith("/board/"):
            boards.append((response.request.headers.get("if-none-match"), response.headers.get("etag")))

    project, token = live_board_of_my_own(tab, server, "revalidator", "RVL")
    tab.page.on("response", seen)
    tab.page.reload()
    expect(tab.page.locator("#live-state")).to_have_text("Live")
    status, _ = api(
        server.port, "POST", f"/api/v1/projects/{project}/labels/", {"name": "new", "color": "#112233"}, token
    )
    assert status == 201  # a label event: the board is read again
    expect(tab.page.locator("#filter-label option")).to_have_count(2)
    assert len(boards) == 2, boards
    assert boards[0][0] is None
    assert boards[1][0] == boards[0][1]  # sent back the ETag it held
    assert boards[1][1] != boards[0][1]  # and got the changed board
