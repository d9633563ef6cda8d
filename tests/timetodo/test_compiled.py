"""Compiled queries (timetodo.compiled) read exactly what the ORM reads: the same rows, the
same counts and pages, the same answers and errors from the task list, on varied data, on
SQLite and (in CI) PostgreSQL; and they refuse a build they cannot run faithfully."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.db.models import Value

from accounts.models import User
from tasks import selectors
from tasks.models import Membership, Project, Task
from tasks.services.projects import project_create
from tests.conftest import requires_postgres
from tests.factories import UserFactory
from tests.helpers.queries import captured
from tests.helpers.teams import Team, client_for
from tests.tasks.test_task_rows import varied
from timetodo.compiled import TOTAL, CompiledQuery, _fetch

pytestmark = pytest.mark.django_db


def orm_page(user: User, project: Project | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    filters = {"project": str(project.pk)} if project else None
    tasks = selectors.tasks_for_user(user=user, filters=filters)
    return list(selectors.task_rows(tasks)[offset : offset + limit]), tasks.count()


@pytest.fixture
def two_teams(team: Team) -> tuple[Team, Team]:
    varied(team)
    owner = UserFactory.create()
    project = project_create(actor=owner, name="Elsewhere", key="ELS")
    other = Team(project=project, users={"owner": owner}, clients={"owner": client_for(owner)})
    for title in ("elsewhere", "further"):
        other.create_task("owner", title=title)
    # The viewer of the first team is in both: a list without a project spans them.
    Membership.objects.create(project=other.project, user=team.users["viewer"], role="admin")
    return team, other


@pytest.mark.parametrize(("limit", "offset"), [(100, 0), (2, 0), (2, 2), (3, 6), (2, 50)])
def test_pages_read_the_same_rows_and_count_as_the_orm(two_teams: tuple[Team, Team], limit: int, offset: int) -> None:
    team, other = two_teams
    viewer = team.users["viewer"]
    reader = selectors.task_page_reader(user=viewer, filters={})
    assert reader is not None
    assert reader(limit, offset) == orm_page(viewer, None, limit, offset)
    for project in (team.project, other.project):
        reader = selectors.task_page_reader(user=viewer, filters={"project": str(project.pk)})
        assert reader is not None
        assert reader(limit, offset) == orm_page(viewer, project, limit, offset)
    # Someone else's view of the same project: their role, their rows only.
    outsider = team.users["outsider"]
    reader = selectors.task_page_reader(user=outsider, filters={"project": str(team.project.pk)})
    assert reader is not None
    assert reader(limit, offset) == ([], 0)


def test_a_page_and_its_count_are_one_query_and_past_the_end_two(two_teams: tuple[Team, Team]) -> None:
    team, _ = two_teams
    reader = selectors.task_page_reader(user=team.users["viewer"], filters={"project": str(team.project.pk)})
    assert reader is not None
    with captured() as queries:
        rows, total = reader(2, 0)
    assert len(queries) == 1, queries.sql
    assert len(rows) == 2
    assert total == Task.objects.filter(project=team.project).count()
    assert all(TOTAL not in row for row in rows)
    with captured() as queries:
        assert reader(2, 1000) == ([], total)
    assert len(queries) == 2, queries.sql


def test_board_rows_and_versions_are_the_orms(two_teams: tuple[Team, Team]) -> None:
    team, _ = two_teams
    ordered = selectors._task_queryset(with_project=False).filter(project=team.project)
    expected = list(selectors.task_rows(ordered.order_by("column_id", "position")))
    assert selectors._BOARD_ROWS.rows(project=team.project.pk) == expected
    viewer = team.users["viewer"]
    versions = list(selectors._versions_of(Membership.objects.filter(user=viewer)))
    assert selectors._LIST_VERSIONS.rows(user=viewer.pk) == versions
    assert len(versions) == 2
    assert any(row["timing"] for row in versions)  # (a timer runs in the first project)
    one = list(selectors._versions_of(Membership.objects.filter(user=viewer, project=team.project)))
    assert selectors._BOARD_VERSIONS.rows(user=viewer.pk, project=team.project.pk) == one


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 3, 29, 1, 30, tzinfo=datetime.UTC),  # no microseconds
        datetime.datetime(2026, 10, 25, 2, 59, 59, 999999, tzinfo=datetime.UTC),
        datetime.datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=datetime.UTC),
        datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=-9, minutes=-30))),
    ],
)
@pytest.mark.django_db(transaction=True)  # (outside a transaction: the prepared cursor)
def test_timestamps_are_read_as_the_orm_reads_them(
    team: Team, moment: datetime.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL the compiled reads parse timestamps with psycopg's loader, not Django's.
    task = team.create_task("owner", title="timed")
    Task.objects.filter(pk=task["id"]).update(completed_at=moment, created_at=moment)
    prepared = []
    if connection.vendor == "postgresql":
        real = connection.compiled_cursor  # type: ignore[attr-defined]

        def counted() -> Any:
            prepared.append(1)
            return real()

        monkeypatch.setattr(connection, "compiled_cursor", counted)
    (row,) = [row for row in selectors._BOARD_ROWS.rows(project=team.project.pk) if str(row["id"]) == task["id"]]
    assert len(prepared) == (connection.vendor == "postgresql")
    (expected,) = selectors.task_rows(selectors._task_queryset(with_project=False).filter(pk=task["id"]))
    assert row == expected
    assert row["completed_at"] == moment
    assert row["created_at"].utcoffset() == datetime.timedelta(0)  # in UTC, as Django gives them
    assert row["completed_at"].isoformat() == expected["completed_at"].isoformat()


def list_answer(team: Team, params: dict[str, str]) -> tuple[int, Any]:
    response = team.clients["viewer"].get("/api/v1/tasks/", params)
    body = response.json()
    for link in ("next", "previous"):
        if isinstance(body, dict) and body.get(link):  # (the links repeat the query string)
            body[link] = re.sub(r"&?column=(?=&|$)", "", body[link]).replace("?&", "?")
    return response.status_code, body


@pytest.mark.parametrize(
    "page",
    [{}, {"page": "2", "page_size": "2"}, {"page_size": "3", "page": "2"}, {"page": "last", "page_size": "2"}],
)
def test_the_list_answers_as_the_orm_path_does(two_teams: tuple[Team, Team], page: dict[str, str]) -> None:
    team, _ = two_teams
    # An empty `column` filters nothing but is not a parameter the compiled read takes:
    # the same list through tasks_for_user.
    for scope in ({}, {"project": str(team.project.pk)}):
        fast = list_answer(team, {**scope, **page})
        assert fast == list_answer(team, {**scope, **page, "column": ""})
        assert fast[0] == 200


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", "99", str(10**30), " 2 "])
def test_bad_pages_are_the_same_answers_as_before(two_teams: tuple[Team, Team], page: str) -> None:
    team, _ = two_teams
    params = {"project": str(team.project.pk), "page": page, "page_size": "2"}
    fast = list_answer(team, params)
    assert fast == list_answer(team, {**params, "column": ""})
    assert fast[0] in (200, 404)


def test_a_project_id_that_does_not_parse_is_the_filters_400(team: Team) -> None:
    assert selectors.task_page_reader(user=team.users["viewer"], filters={"project": "nope"}) is None
    status, body = list_answer(team, {"project": "nope"})
    assert status == 400
    assert "project" in body


def test_a_compiled_query_is_compiled_once_per_database() -> None:
    builds = []

    def build(user: uuid.UUID) -> Any:
        builds.append(user)
        return User.objects.filter(pk=user).values("username")

    query = CompiledQuery(build, "user")
    nobody = uuid.uuid4()
    assert query.rows(user=nobody) == []
    someone = User.objects.create_user(username="someone", email="someone@example.com", password="x-long-password")
    assert query.rows(user=someone.pk) == [{"username": "someone"}]
    assert query.rows(user=str(someone.pk)) == [{"username": "someone"}]
    assert len(builds) == 1
    assert builds[0] not in (nobody, someone.pk)  # built with a stand-in, never a real id
    assert connection.vendor in {vendor for _, vendor in query._compiled}


def test_builds_it_cannot_run_faithfully_are_refused() -> None:
    unused = CompiledQuery(lambda user, project: User.objects.filter(pk=user).values("pk"), "user", "project")
    with pytest.raises(TypeError, match="does not use"):
        unused.rows(user=uuid.uuid4(), project=uuid.uuid4())
    sliced = CompiledQuery(lambda user: User.objects.filter(pk=user).values("pk")[:5], "user")
    with pytest.raises(TypeError, match="unsliced"):
        sliced.rows(user=uuid.uuid4())
    models = CompiledQuery(lambda user: User.objects.filter(pk=user), "user")
    with pytest.raises(TypeError, match="values"):
        models.rows(user=uuid.uuid4())
    fine = CompiledQuery(lambda user: User.objects.filter(pk=user).values("pk"), "user")
    with pytest.raises(TypeError, match="exactly"):
        fine.rows(user=uuid.uuid4(), project=uuid.uuid4())
    with pytest.raises(TypeError, match="limit"):
        fine.rows(user=uuid.uuid4(), limit=5)
    with pytest.raises(TypeError, match="counted"):
        fine.page(user=uuid.uuid4(), limit=5)


@pytest.mark.django_db(transaction=True)  # (outside a transaction: the prepared cursor)
def test_large_constants_keep_their_value() -> None:
    # Bound on the server, psycopg's Int4 (which Django wraps the ints of expressions in)
    # would wrap 2**60 to 0; the compiled query binds a plain int.
    big = 1 << 60
    query = CompiledQuery(
        lambda user: User.objects.filter(pk=user).annotate(shifted=Value(big) - Value(1)).values("shifted"), "user"
    )
    someone = User.objects.create_user(username="big", email="big@example.com", password="x-long-password")
    assert query.rows(user=someone.pk) == [{"shifted": big - 1}]


def test_an_id_compiled_into_a_constant_is_refused() -> None:
    # The text of an id (as a JSON lookup would hold it) would be frozen with the stand-in.
    inside = CompiledQuery(lambda user: User.objects.filter(pk=user, username__contains=str(user)).values("pk"), "user")
    with pytest.raises(TypeError, match="constant"):
        inside.rows(user=uuid.uuid4())


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_prepared_read_survives_a_migration_changing_its_columns_type() -> None:
    # A release keeps serving while the next one migrates (expand): PostgreSQL refuses a
    # prepared statement whose result type changed; the read deallocates and runs anew.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE compiled_probe (id uuid PRIMARY KEY, name varchar(10))")
    try:
        probe = uuid.uuid4()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO compiled_probe VALUES (%s, 'short')", [probe])
        sql = "SELECT name FROM compiled_probe WHERE id = %s"
        for _ in range(7):  # (prepared at the 5th run)
            assert _fetch("default", sql, [probe]) == [("short",)]
        params = connection.get_connection_params()
        wanted = {name: params[name] for name in ("dbname", "host", "port", "user", "password") if params.get(name)}
        with psycopg.connect(**wanted, autocommit=True) as other:
            other.execute("ALTER TABLE compiled_probe ALTER COLUMN name TYPE varchar(200)")
        assert _fetch("default", sql, [probe]) == [("short",)]
        assert _fetch("default", sql, [probe]) == [("short",)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE compiled_probe")
