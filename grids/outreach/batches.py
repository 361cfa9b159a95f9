"""Ids in batches a query can take, and `IN` that stays one parameter on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable

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
