"""PostgreSQL backend: django-prometheus' instrumented wrapper, with a pool that recovers
from a database restart at once.

psycopg_pool checks a connection before lending it (CONN_HEALTH_CHECKS) but finds dead ones
one at a time, sleeping with a growing back-off between them (1 s, 2 s, 4 s...): after a
restart has killed ten idle connections, a request would wait far past the pool timeout.
One dead connection almost always means they all died, so on the first failed check we
sweep every idle connection (`pool.check()` replaces the dead ones) before retrying.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django_prometheus.db.backends.postgresql import base

from timetodo.db.pool import check_or_sweep


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        pool = super().pool
        if pool is not None and pool._check is not None and not getattr(pool, "_sweeps_on_failure", False):
            pool._check = partial(check_or_sweep, pool)  # the pool's own hook, set once per pool
            pool._sweeps_on_failure = True
        return pool
