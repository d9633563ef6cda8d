"""Time tracking over HTTP: entries, timers, spent minutes and the time report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tasks.models import Activity, Task, TimeEntry
from tasks.services.projects import project_create
from tasks.services.tasks import task_create
from tasks.services.time import timer_start
from tests.conftest import requires_postgres
from tests.factories import UserFactory
from tests.helpers.queries import Queries, assert_constant, captured
from tests.helpers.teams import Team, client_for
from timetodo.errors import NotFound

pytestmark = pytest.mark.django_db

ENTRIES = "/api/v1/time-entries/"


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def log(team: Team, task: dict[str, Any], role: str = "member", **values: Any):
    start = timezone.now() - dt.timedelta(hours=3)
    body = {"task": task["id"], "started_at": iso(start), "minutes": 30, **values}
    return team.clients[role].post(ENTRIES, body, format="json")


def spent(team: Team, task: dict[str, Any]) -> int:
    return team.clients["viewer"].get(f"/api/v1/tasks/{task['id']}/").json()["spent_minutes"]


def test_log_time_by_minutes_or_end_and_spent_minutes_follow(team: Team) -> None:
    task = team.create_task()
    first = log(team, task, note="pairing")
    assert first.status_code == 201, first.content
    entry = first.json()
    assert (entry["minutes"], entry["note"], entry["user"]) == (30, "pairing", str(team.users["member"].pk))
    start = timezone.now() - dt.timedelta(hours=2)
    second = log(
        team, task, role="admin", started_at=iso(start), minutes=None, ended_at=iso(start + dt.timedelta(minutes=45))
    )
    assert second.status_code == 400  # minutes: null is not "absent"
    body = {"task": task["id"], "started_at": iso(start), "ended_at": iso(start + dt.timedelta(minutes=45))}
    assert team.clients["admin"].post(ENTRIES, body, format="json").json()["minutes"] == 45
    assert spent(team, task) == 75
    assert Activity.objects.filter(verb="time_entry.created").count() == 2


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": -5}, "minutes"),
        ({"minutes": 24 * 60 + 1}, "minutes"),
        ({"minutes": "lots"}, "minutes"),
        ({"minutes": None, "ended_at": None}, "ended_at"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"note": "n" * 501}, "note"),
    ],
)
def test_bad_entries_are_400(team: Team, values: dict[str, Any], field: str) -> None:
    task = team.create_task()
    body = {k: v for k, v in values.items() if v is not None}
    response = log(team, task, **body) if values.get("minutes", 1) is not None else None
    if response is None:
        start = iso(timezone.now() - dt.timedelta(hours=1))
        response = team.clients["member"].post(ENTRIES, {"task": task["id"], "started_at": start}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not TimeEntry.objects.exists()


def test_spans_must_end_after_start_within_a_day_and_not_in_the_future(team: Team) -> None:
    task = team.create_task()
    now = timezone.now()
    cases = [
        (now - dt.timedelta(hours=1), now - dt.timedelta(hours=2), "ended_at"),  # ends before it starts
        (now - dt.timedelta(hours=30), now - dt.timedelta(hours=1), "ended_at"),  # 29 h
        (now + dt.timedelta(days=30), now + dt.timedelta(days=30, hours=1), "started_at"),  # the future
    ]
    for start, end, field in cases:
        body = {"task": task["id"], "started_at": iso(start), "ended_at": iso(end)}
        response = team.clients["member"].post(ENTRIES, body, format="json")
        assert response.status_code == 400
        assert field in response.json()
    assert not TimeEntry.objects.exists()
    assert spent(team, task) == 0


def test_viewers_and_outsiders_cannot_log_time(team: Team) -> None:
    task = team.create_task()
    assert log(team, task, role="viewer").status_code == 403
    assert log(team, task, role="outsider").status_code == 404
    assert not TimeEntry.objects.exists()


def test_edit_and_delete_own_entries_admins_any(team: Team) -> None:
    task = team.create_task()
    entry = log(team, task).json()
    url = f"{ENTRIES}{entry['id']}/"
    edited = team.clients["member"].patch(url, {"minutes": 50, "note": "more"}, format="json")
    assert edited.status_code == 200
    assert edited.json()["minutes"] == 50
    assert spent(team, task) == 50
    other = UserFactory.create()
    from tasks.models import Membership

    Membership.objects.create(project=team.project, user=other, role="member")
    assert client_for(other).patch(url, {"note": "mine now"}, format="json").status_code == 403
    assert team.clients["viewer"].delete(url).status_code == 403
    assert team.clients["outsider"].delete(url).status_code == 404
    assert team.clients["admin"].patch(url, {"minutes": 20}, format="json").status_code == 200
    assert spent(team, task) == 20
    assert team.clients["admin"].delete(url).status_code == 204
    assert spent(team, task) == 0
    verbs = list(Activity.objects.filter(target_type="time_entry").order_by("seq").values_list("verb", flat=True))
    assert verbs == ["time_entry.created", "time_entry.updated", "time_entry.updated", "time_entry.deleted"]


def test_list_filters(team: Team) -> None:
    a, b = team.create_task(title="a"), team.create_task(title="b")
    log(team, a)
    log(team, b, role="admin")
    old = timezone.now() - dt.timedelta(days=10)
    log(team, a, started_at=iso(old))
    client = team.clients["member"]

    def count(**params: str) -> int:
        response = client.get(ENTRIES, params)
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count() == 3
    assert count(task=a["id"]) == 2
    assert count(user="me") == 2
    assert count(user=str(team.users["admin"].pk)) == 1
    assert count(project=str(team.project.pk)) == 3
    assert count(**{"from": (timezone.now() - dt.timedelta(days=2)).date().isoformat()}) == 2
    assert count(to=(timezone.now() - dt.timedelta(days=5)).date().isoformat()) == 1
    assert client.get(ENTRIES, {"from": "soon"}).status_code == 400
    assert team.clients["outsider"].get(ENTRIES).json()["count"] == 0


def test_timer_start_stop_and_current(team: Team) -> None:
    a, b = team.create_task(title="a"), team.create_task(title="b")
    client = team.clients["member"]
    assert client.get("/api/v1/timer/").status_code == 204
    assert client.post("/api/v1/timer/stop/").status_code == 404
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = client.post(f"/api/v1/tasks/{a['id']}/timer/start/")
    assert first.status_code == 201
    assert first.json()["ended_at"] is None
    with time_machine.travel(start + dt.timedelta(minutes=20), tick=False):
        team.clients = {role: client_for(user) for role, user in team.users.items()}
        client = team.clients["member"]
        assert client.get("/api/v1/timer/").json()["minutes"] == 20
        assert spent(team, a) == 20  # a running timer counts up to now
        second = client.post(f"/api/v1/tasks/{b['id']}/timer/start/")  # stops the first
    assert second.status_code == 201
    assert TimeEntry.objects.filter(ended_at__isnull=True).count() == 1
    stopped_first = TimeEntry.objects.get(pk=first.json()["id"])
    assert stopped_first.minutes == 20
    with time_machine.travel(start + dt.timedelta(minutes=35), tick=False):
        team.clients = {role: client_for(user) for role, user in team.users.items()}
        stop = team.clients["member"].post("/api/v1/timer/stop/")
    assert stop.status_code == 200
    assert stop.json()["minutes"] == 15
    assert Task.objects.get(pk=a["id"]).spent_minutes == 20
    assert Task.objects.get(pk=b["id"]).spent_minutes == 15
    team.clients = {role: client_for(user) for role, user in team.users.items()}
    assert team.clients["viewer"].post(f"/api/v1/tasks/{a['id']}/timer/start/").status_code == 403
    assert team.clients["outsider"].post(f"/api/v1/tasks/{a['id']}/timer/start/").status_code == 404


def test_a_running_timer_cannot_be_given_an_end_by_patch(team: Team) -> None:
    task = team.create_task()
    running = team.clients["member"].post(f"/api/v1/tasks/{task['id']}/timer/start/").json()
    response = team.clients["member"].patch(f"{ENTRIES}{running['id']}/", {"minutes": 5}, format="json")
    assert response.status_code == 409


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_timer_starts_leave_exactly_one_running() -> None:
    user = UserFactory.create()
    projects = [project_create(actor=user, name=f"P{n}", key=f"P{n}X") for n in range(3)]
    tasks = [task_create(actor=user, project_id=p.pk, values={"title": "t"}).task for p in projects for _ in range(2)]
    barrier = threading.Barrier(len(tasks))
    errors: list[BaseException] = []

    def start(task: Task) -> None:
        try:
            barrier.wait()
            timer_start(actor=user, task=task)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []  # serialized by the user's row lock: every start succeeds in turn
    assert TimeEntry.objects.filter(user=user, ended_at__isnull=True).count() == 1
    assert TimeEntry.objects.filter(user=user).count() == len(tasks)


# Report


@pytest.fixture
def logged(team: Team) -> dict[str, Any]:
    a = team.create_task(title='Fix "quotes", commas')
    b = team.create_task(title="Plain")
    day1 = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
    day2 = day1 + dt.timedelta(days=1)
    log(team, a, started_at=iso(day1), minutes=60)
    log(team, b, started_at=iso(day1 + dt.timedelta(hours=2)), minutes=30)
    log(team, a, role="admin", started_at=iso(day2), minutes=45)
    return {"a": a, "b": b, "day1": day1.date().isoformat(), "day2": day2.date().isoformat()}


def test_report_by_user_task_and_day(team: Team, logged: dict[str, Any]) -> None:
    client = team.clients["viewer"]
    by_user = client.get(team.url("time-report/"), {"group_by": "user"}).json()
    assert by_user["total_minutes"] == 135
    assert [(r["key"], r["minutes"]) for r in by_user["rows"]] == [
        (str(team.users["member"].pk), 90),
        (str(team.users["admin"].pk), 45),
    ]
    by_task = client.get(team.url("time-report/"), {"group_by": "task"}).json()
    assert [(r["label"], r["minutes"]) for r in by_task["rows"]] == [
        ('TTD-1 Fix "quotes", commas', 105),
        ("TTD-2 Plain", 30),
    ]
    by_day = client.get(team.url("time-report/"), {"group_by": "day"}).json()
    assert [(r["key"], r["minutes"]) for r in by_day["rows"]] == [(logged["day1"], 90), (logged["day2"], 45)]
    ranged = client.get(
        team.url("time-report/"), {"group_by": "day", "from": logged["day2"], "to": logged["day2"]}
    ).json()
    assert ranged["total_minutes"] == 45
    assert client.get(team.url("time-report/"), {"group_by": "month"}).status_code == 400
    assert client.get(team.url("time-report/"), {"from": logged["day2"], "to": logged["day1"]}).status_code == 400
    assert team.clients["outsider"].get(team.url("time-report/")).status_code == 404


def test_report_as_csv(team: Team, logged: dict[str, Any]) -> None:
    response = team.clients["viewer"].get(team.url("time-report/"), {"group_by": "task", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0] == ["key", "label", "minutes"]
    assert rows[1][1:] == ['TTD-1 Fix "quotes", commas', "105"]
    assert rows[2][1:] == ["TTD-2 Plain", "30"]


def test_report_and_entry_list_query_counts_do_not_grow(team: Team) -> None:
    def queries(url: str, **params: str) -> Queries:
        with captured() as ran:
            assert team.clients["viewer"].get(url, params).status_code == 200
        return ran

    def add(n: int) -> None:
        for i in range(n):
            task = team.create_task(title=f"t{i}")
            log(team, task)
            log(team, task, role="admin")

    add(1)
    few = (queries(team.url("time-report/"), group_by="task"), queries(ENTRIES))
    add(6)
    assert_constant(few[0], queries(team.url("time-report/"), group_by="task"), "the time report")
    assert_constant(few[1], queries(ENTRIES), "the entry list")


def test_csv_cells_cannot_become_spreadsheet_formulas(team: Team) -> None:
    member = team.users["member"]
    member.full_name = '=HYPERLINK("http://evil.example","click")'
    member.save(update_fields=["full_name"])
    log(team, team.create_task())
    response = team.clients["viewer"].get(team.url("time-report/"), {"group_by": "user", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[1][1] == "'" + member.full_name  # shown as text, never run


def test_far_away_starts_are_400_not_500(team: Team) -> None:
    task = team.create_task()
    for start in ("9999-12-31T23:59:00Z", "0001-01-02T00:00:00Z"):
        response = team.clients["member"].post(
            ENTRIES, {"task": task["id"], "started_at": start, "minutes": 10}, format="json"
        )
        assert response.status_code == 400, start
        assert "started_at" in response.json()
    entry = log(team, task).json()
    patched = team.clients["member"].patch(
        f"{ENTRIES}{entry['id']}/", {"started_at": "9999-12-31T23:59:00Z"}, format="json"
    )
    assert patched.status_code == 400


def test_running_timers_show_at_most_a_day(team: Team) -> None:
    task = team.create_task()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        running = team.clients["member"].post(f"/api/v1/tasks/{task['id']}/timer/start/").json()
    back = team.clients["member"].patch(
        f"{ENTRIES}{running['id']}/", {"started_at": iso(start - dt.timedelta(days=400))}, format="json"
    )
    assert back.status_code == 400
    with time_machine.travel(start + dt.timedelta(hours=50), tick=False):
        team.clients = {role: client_for(user) for role, user in team.users.items()}
        assert team.clients["member"].get("/api/v1/timer/").json()["minutes"] == 24 * 60
        assert spent(team, task) == 24 * 60


def test_report_errors_stay_json_even_as_csv(team: Team) -> None:
    response = team.clients["viewer"].get(team.url("time-report/"), {"group_by": "month", "format": "csv"})
    assert response.status_code == 400
    assert response.json() == {"group_by": ["Use user, task or day."]}


def test_a_deleted_users_time_stays_spent(team: Team) -> None:
    task = team.create_task()
    log(team, task)
    team.users["member"].delete()
    assert Task.objects.get(pk=task["id"]).spent_minutes == 30
    report = team.clients["viewer"].get(team.url("time-report/"), {"group_by": "user"}).json()
    assert report["rows"] == [{"key": "deleted", "label": "(deleted user)", "minutes": 30}]


def test_bad_filters_are_400_naming_the_parameter(team: Team) -> None:
    client = team.clients["member"]
    for params, name in (
        ({"user": "someone"}, "user"),
        ({"project": "nope"}, "project"),
        ({"task": "nope"}, "task"),
        ({"from": "03/01/2026"}, "from"),  # the contract's dates are YYYY-MM-DD, no locale forms
        ({"to": "2026-13-01"}, "to"),
    ):
        response = client.get(ENTRIES, params)
        assert response.status_code == 400, params
        assert list(response.json()) == [name]


def test_logging_time_on_a_task_deleted_meanwhile_is_a_404(team: Team) -> None:
    from tasks.services.time import time_entry_create

    task = Task.objects.get(pk=team.create_task()["id"])
    Task.objects.filter(pk=task.pk).delete()  # while the request waited for the project lock
    member = team.users["member"]
    started = timezone.now() - dt.timedelta(hours=1)
    with pytest.raises(NotFound):
        time_entry_create(actor=member, task=task, started_at=started, minutes=5)
    with pytest.raises(NotFound):
        timer_start(actor=member, task=task)
    assert not TimeEntry.objects.exists()
