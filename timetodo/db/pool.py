"""Connection checks for psycopg_pool."""

from __future__ import annotations

import logging
from typing import Any

from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)


def check_or_sweep(pool: ConnectionPool, connection: Any) -> None:
    """Check one connection; if it is dead, check all idle ones now, then report it dead."""
    try:
        ConnectionPool.check_connection(connection)
    except Exception:
        logger.warning("a pooled database connection was dead: checking every idle connection")
        pool.check()
        raise
