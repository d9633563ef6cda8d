"""Counting queries, and saying which ones when a count is wrong (as Zulip's helper does)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@dataclass
class Queries:
    """The SQL a block ran, in order (filled in when the block ends)."""

    sql: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sql)

    def listing(self) -> str:
        return "\n".join(f"  {number}. {statement}" for number, statement in enumerate(self.sql, start=1))


@contextmanager
def captured() -> Iterator[Queries]:
    queries = Queries()
    with CaptureQueriesContext(connection) as context:
        yield queries
    queries.sql = [query["sql"] for query in context.captured_queries]


def assert_at_most(queries: Queries, most: int, what: str = "this") -> None:
    if len(queries) > most:
        pytest.fail(f"{what} ran {len(queries)} queries, at most {most} expected:\n{queries.listing()}")


def assert_constant(few: Queries, many: Queries, what: str = "this") -> None:
    """The same number of queries with more rows: no query per row."""
    if len(few) != len(many):
        pytest.fail(
            f"{what} ran {len(few)} queries with few rows and {len(many)} with more:\n"
            f"with few rows:\n{few.listing()}\nwith more rows:\n{many.listing()}"
        )
