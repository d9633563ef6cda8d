"""Connection checks for psycopg_pool.

psycopg_pool's own check (`ConnectionPool.check_connection`) sends an empty query before
it lends a connection: a round trip on every request. A connection that came back to the
pool a moment ago, idle, with nothing from the server waiting on its socket is lent without
it: a server that ended the session (a restart, `pg_terminate_backend`, an idle timeout)
sends its FATAL notice and closes the socket, which makes it readable, and then the full
check runs. A connection unused for longer than `RECENT_SECONDS` is always checked.
"""

from __future__ import annotations

import logging
import select
import time
import weakref
from typing import Any

from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

# Lent without a round trip only if returned to the pool this recently.
RECENT_SECONDS = 2.0

_returned_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def note_returned(connection: Any) -> None:
    """The pool's `reset` hook: called when a connection comes back to the pool, idle."""
    _returned_at[connection] = time.monotonic()


def recently_fine(connection: Any) -> bool:
    """Returned to the pool within RECENT_SECONDS, idle, and nothing has arrived since."""
    returned = _returned_at.get(connection)
    if returned is None or time.monotonic() - returned > RECENT_SECONDS:
        return False
    if connection.closed or connection.pgconn.transaction_status != TransactionStatus.IDLE:
        return False
    poll = select.poll()
    poll.register(connection.fileno(), select.POLLIN | select.POLLPRI)
    return not poll.poll(0)  # readable: a notice or EOF from the server, so check it for real


def check_or_sweep(pool: ConnectionPool, connection: Any) -> None:
    """Check one connection (no round trip if `recently_fine`); if it is dead, check all idle
    ones now, then report it dead."""
    if recently_fine(connection):
        return
    try:
        ConnectionPool.check_connection(connection)
    except Exception:
        _returned_at.pop(connection, None)
        logger.warning("a pooled database connection was dead: checking every idle connection")
        pool.check()
        raise
