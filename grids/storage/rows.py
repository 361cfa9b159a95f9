"""Row helpers shared by services that write under concurrency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def table_of(model: type[Any]) -> Table:
    return model.__table__


T = TypeVar("T")


def get_or_create(
    session: Session, find: Callable[[], T | None], create: Callable[[], T]
) -> tuple[T, bool]:
    """The row `find` returns, else a new one; a concurrent insert of the same unique
    key (two deliveries at once) makes us use the other transaction's row."""
    found = find()
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            row = create()
            session.add(row)
        return row, True
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found, False


def forget_loaded(session: Session, *models: type[Any]) -> None:
    """Rows of `models` were written by statements, not through the session: any copy
    the session holds is read again on next use."""
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, models):
            session.expire(loaded)


def rows_matched(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE run through `Session.execute` matched (a cursor result's
    `rowcount`; the session types every result as a plain `Result`)."""
    return cast("CursorResult[Any]", result).rowcount
