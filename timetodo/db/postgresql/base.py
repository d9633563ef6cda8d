"""PostgreSQL backend: django-prometheus' instrumented wrapper, with a pool that recovers
from a database restart at once.

psycopg_pool checks a connection before lending it (CONN_HEALTH_CHECKS) but finds dead ones
one at a time, sleeping with a growing back-off between them (1 s, 2 s, 4 s...): after a
restart has killed ten idle connections, a request would wait far past the pool timeout.
One dead connection almost always means they all died, so on the first failed check we
sweep every idle connection (`pool.check()` replaces the dead ones) before retrying. A
connection returned to the pool a moment ago is lent without the check's round trip unless
the server has said something on it since (`timetodo.db.pool`).
"""

from __future__ import annotations

from functools import cached_property, partial
from typing import Any

import psycopg
from django.db.backends.postgresql.base import ServerBindingCursor
from django_prometheus.db.backends.postgresql import base
from django_prometheus.db.common import ExportingCursorWrapper

from timetodo.db.pool import check_or_sweep, note_returned

TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid
FAST_TIMESTAMPTZ_LOADER = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT)


class DatabaseWrapper(base.DatabaseWrapper):
    def compiled_cursor(self) -> Any:
        """A cursor for timetodo.compiled's reads outside a transaction: parameters bound by
        the server, so psycopg prepares the statement once it has run `prepare_threshold`
        times on this connection (planning the task list's page cost more than running it).
        Counted in the metrics and in the query log like any other (its SQL logged with
        `$1` placeholders). Only for the compiled queries: with server-side binding Django
        binds the ints of its expressions as int4, and a 2**60 (positions.SHIFT) would
        silently wrap; their parameters come from compiling with client-side binding, as
        plain ints that psycopg sizes itself."""
        self.ensure_connection()
        cursor = self._compiled_cursor_class(self.connection)
        # Timestamps read by psycopg's own loader (C, with psycopg[binary]) in the session's
        # time zone, which Django sets to the connection's: the same aware datetimes as
        # Django's loader, which parses them in Python (5 us each: the board's thousand
        # rows spent a third of their time there, measured).
        cursor.adapters.register_loader(TIMESTAMPTZ_OID, FAST_TIMESTAMPTZ_LOADER)
        return self._prepare_cursor(cursor)

    @cached_property
    def _compiled_cursor_class(self) -> Any:
        return ExportingCursorWrapper(ServerBindingCursor, self.alias, self.vendor)

    @property
    def pool(self) -> Any:
        pool = super().pool
        if pool is not None and pool._check is not None and not getattr(pool, "_sweeps_on_failure", False):
            pool._check = partial(check_or_sweep, pool)  # the pool's own hooks, set once per pool
            if pool._reset is None:
                pool._reset = note_returned  # (what lets check_or_sweep skip its round trip)
            pool._sweeps_on_failure = True
        return pool
