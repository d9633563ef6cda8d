"""Querysets compiled to SQL once per process and database, then run with new values.

Django builds and compiles a queryset on every request. For the hottest reads (a page of
the task list, the ETag of a list or a board, a board) building and compiling cost more
than running the query: measured here, 6 ms to build and compile a page of the task list
against 1 ms to run it. A `CompiledQuery` asks the ORM for the SQL once, with stand-in
ids for the values it is given, and from then on runs that same SQL with the real ids and
converts each row with the ORM's own converters. The SQL is still the ORM's (one source:
the selector that builds the queryset), on SQLite and PostgreSQL alike, and runs through
Django's cursor (query logging, metrics and the test suite's query counts see it).

Values are ids (UUIDs): each stand-in is a random UUID, found again among the compiled
parameters (as the UUID itself on PostgreSQL, as its hex on SQLite). A build that does not
use a value it is given, or that compiles to SQL the stand-ins cannot be found in, fails
when first run, never silently.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, NotSupportedError, connections
from django.db.models import IntegerField, Model, QuerySet, Subquery

M = TypeVar("M", bound=Model)

# How a value appears in the compiled parameters: as given, or as its hex (SQLite's UUIDs).
AS_GIVEN, AS_HEX = "uuid", "hex"
TOTAL = "total__"  # the count's column in a counted page
STALE_PLAN = "cached plan must not change result type"  # (PostgreSQL's words)


Slots = tuple[tuple[str | None, Any], ...]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Per parameter: (value name, form) for a value given at run time, or (None, constant).
    slots: Slots
    names: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]
    # Counted pages: the number of rows of every page, alone (for a page past the end).
    count_sql: str = ""
    count_slots: Slots = ()


def _slots_of(params: Sequence[Any], stand_ins: dict[str, uuid.UUID]) -> Slots:
    slots: list[tuple[str | None, Any]] = []
    used: set[str] = set()
    for param in params:
        for name, stand_in in stand_ins.items():
            if param == stand_in:
                slots.append((name, AS_GIVEN))
                break
            if param == stand_in.hex:
                slots.append((name, AS_HEX))
                break
        else:
            # Django wraps the ints of expressions as psycopg's Int4 (Int8...): bound on the
            # server an Int4 wraps silently above 2**31. As a plain int, psycopg sizes it.
            if isinstance(param, int) and not isinstance(param, bool):
                param = int(param)
            slots.append((None, param))
            continue
        used.add(name)
    for owner, constant in slots:
        if owner is None and isinstance(constant, str | bytes | dict | list | tuple):
            text = str(constant)
            if any(str(value) in text or value.hex in text for value in stand_ins.values()):
                raise TypeError("a value is compiled into a constant (text or JSON of an id): pass the id itself")
    unused = set(stand_ins) - used
    if unused:
        raise TypeError(f"the compiled query does not use {sorted(unused)}")
    return tuple(slots)


class _CountOf(Subquery):
    """The number of rows of a queryset, as a column: an uncorrelated scalar subquery, run
    once per query (PostgreSQL's InitPlan, SQLite's ONCE), not once per row."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) counted)"
    output_field = IntegerField()


def _compile(
    queryset: QuerySet[Any], stand_ins: dict[str, uuid.UUID], alias: str, *, paged: bool, counted: bool
) -> _Compiled:
    query = queryset.query
    if query.low_mark or query.high_mark is not None:
        raise TypeError("compile the queryset unsliced: pages are given at run time")
    if not (query.values_select or query.annotation_select) or query.extra_select:
        raise TypeError("a compiled query reads rows: values() or values_list() of named columns")
    count_sql, count_slots = "", cast(Slots, ())
    if counted:
        ids = queryset.order_by().values("pk")
        count_sql, count_params = ids.annotate().query.get_compiler(using=alias).as_sql()
        count_sql = f"SELECT COUNT(*) FROM ({count_sql}) counted"  # noqa: S608 (the ORM's SQL; values are parameters)
        used = {name: value for name, value in stand_ins.items() if value in count_params or value.hex in count_params}
        count_slots = _slots_of(count_params, used)
        # The count rides along with the page, in its last column: one round trip for both.
        queryset = queryset.annotate(**{TOTAL: _CountOf(ids)})
        query = queryset.query
    compiler = query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    if paged:
        sql += " LIMIT %s OFFSET %s"
    names = tuple(query.selected) if query.selected else (*query.values_select, *query.annotation_select)
    fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
    if len(fields) != len(names):
        raise TypeError("a compiled query reads exactly the columns it names")
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(fields).items()
    )
    return _Compiled(sql, _slots_of(params, stand_ins), names, converters, count_sql, count_slots)


class CompiledQuery:
    """`build(**ids)` -> a values() queryset; `rows(**ids)` runs its SQL, compiled once per
    database, with these ids. `paged=True`: `rows(limit=, offset=)` reads one page;
    `counted=True`: `page(limit=, offset=)` reads one page and the number of rows in all."""

    def __init__(
        self, build: Callable[..., QuerySet[Any]], *values: str, paged: bool = False, counted: bool = False
    ) -> None:
        self._build = build
        self._values = values
        self._paged = paged or counted
        self._counted = counted
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def compiled(self, using: str = DEFAULT_DB_ALIAS) -> _Compiled:
        key = (using, connections[using].vendor)
        found = self._compiled.get(key)
        if found is None:
            with self._lock:
                stand_ins = {name: uuid.uuid4() for name in self._values}
                queryset = self._build(**stand_ins)
                found = _compile(queryset, stand_ins, using, paged=self._paged, counted=self._counted)
                self._compiled[key] = found
        return found

    def rows(
        self, *, using: str = DEFAULT_DB_ALIAS, limit: int | None = None, offset: int = 0, **values: Any
    ) -> list[dict[str, Any]]:
        if self._counted:
            raise TypeError("a counted query reads pages: page()")
        if self._paged != (limit is not None):
            raise TypeError("a paged query needs a limit; only a paged query takes one")
        compiled = self.compiled(using)
        ids = self._ids(values)
        extra = [limit, offset] if limit is not None else []
        fetched = _fetch(using, compiled.sql, _params(compiled.slots, ids) + extra)
        return _converted(compiled, fetched, connections[using])

    def page(
        self, *, limit: int, offset: int = 0, using: str = DEFAULT_DB_ALIAS, **values: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of rows (without the count's column) and how many rows all pages hold."""
        if not self._counted:
            raise TypeError("only a counted query reads pages with their count")
        compiled = self.compiled(using)
        ids = self._ids(values)
        fetched = _fetch(using, compiled.sql, [*_params(compiled.slots, ids), limit, offset])
        rows = _converted(compiled, fetched, connections[using])
        if rows:
            total = rows[0][TOTAL]
            for row in rows:
                del row[TOTAL]
            return rows, int(total)
        if not offset:
            return [], 0
        # Past the last page: no row carries the count, so ask for it alone.
        return [], int(_fetch(using, compiled.count_sql, _params(compiled.count_slots, ids))[0][0])

    def _ids(self, values: dict[str, Any]) -> dict[str, uuid.UUID]:
        if set(values) != set(self._values):
            raise TypeError(f"give exactly {sorted(self._values)}")
        return {
            name: value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)) for name, value in values.items()
        }


def _params(slots: Slots, ids: dict[str, uuid.UUID]) -> list[Any]:
    return [
        constant if name is None else (ids[name] if constant == AS_GIVEN else ids[name].hex) for name, constant in slots
    ]


def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> Any:
    """A cursor for SQL that runs on every request with the same text: on PostgreSQL,
    outside a transaction, one whose statements are prepared (timetodo.db.postgresql);
    otherwise Django's own. (A prepared statement fails once a migration changes the type
    of a column it reads, "cached plan must not change result type": outside a transaction
    `_fetch` deallocates and runs it again; inside one the failure would abort the write,
    so writes are not prepared.)"""
    connection = connections[using]
    prepared = getattr(connection, "compiled_cursor", None)
    if prepared is None or connection.in_atomic_block:
        return connection.cursor()
    return prepared()


def instances(model: type[M], rows: list[dict[str, Any]], *, using: str = DEFAULT_DB_ALIAS) -> list[M]:
    """Rows of a compiled query as model instances, built as the ORM builds them
    (`Model.from_db`): the model's columns the rows hold are loaded (any other loads on
    access, as with `only()`), and every other key is set as an attribute (annotations)."""
    if not rows:
        return []
    keys = set(rows[0])
    names = [field.attname for field in model._meta.concrete_fields if field.attname in keys]
    extra = [key for key in rows[0] if key not in set(names)]
    built = []
    for row in rows:
        instance = model.from_db(using, names, [row[name] for name in names])
        for key in extra:
            setattr(instance, key, row[key])
        built.append(instance)
    return built


def _fetch(using: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    try:
        return _run(using, sql, params)
    except NotSupportedError as exc:
        if STALE_PLAN not in str(exc) or connections[using].in_atomic_block:
            raise
    # The table changed under a prepared statement (a migration while this release
    # serves): forget every prepared statement of this connection, then run it anew.
    with prepared_cursor(using) as cursor:
        cursor.execute("DEALLOCATE ALL")  # (psycopg forgets its own names when it sees this)
    return _run(using, sql, params)


def _run(using: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with prepared_cursor(using) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _converted(compiled: _Compiled, fetched: list[tuple[Any, ...]], connection: Any) -> list[dict[str, Any]]:
    """Rows as dicts, each value converted as the ORM converts it (values() does the same)."""
    names = compiled.names
    if not compiled.converters:
        return [dict(zip(names, row, strict=True)) for row in fetched]
    rows = []
    for raw in fetched:
        row = list(raw)
        for position, functions, expression in compiled.converters:
            value = row[position]
            for function in functions:
                value = function(value, expression, connection)
            row[position] = value
        rows.append(dict(zip(names, row, strict=True)))
    return rows
