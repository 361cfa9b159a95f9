"""Conditions on long lists of ids, and ids in batches a query can take.

Two ways to say `column IN ids`, for two kinds of statement:
- `among`: one array parameter on PostgreSQL, for a statement run once with its ids;
- `written_in`: the ids written into the SQL (integers only), for a statement that
  repeats one list in several parts (a township's thousands of grids in each part
  of the rollup) and would pass the drivers' limit on bound parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute, Session


def chunks(items: list[int], size: int = 1000) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def id_batches(session: Session, ids: Iterable[int]) -> Iterable[list[int]]:
    """`ids` sorted, in batches for `among`: one batch on PostgreSQL (a single array
    parameter), batches of 1,000 on SQLite (one parameter each)."""
    size = 100_000 if session.get_bind().dialect.name == "postgresql" else 1000
    return chunks(sorted(set(ids)), size)


def among(
    session: Session, column: ColumnElement[int] | QueryableAttribute[int], ids: list[int]
) -> ColumnElement[bool]:
    """`column IN ids`: on PostgreSQL `= ANY(array)`, one parameter however many ids
    (a query with 50,000 placeholders costs more to send than to run)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(Integer)))
    return column.in_(ids)


def written_in(column: Any, ids: Collection[int], name: str) -> ColumnElement[bool]:
    """`column IN (ids)` with the ids, sorted, written into the SQL under the parameter
    name `name` (one name per list a statement holds)."""
    listed = sorted({int(value) for value in ids})
    return column.in_(bindparam(name, listed, expanding=True, literal_execute=True))
