"""Many rows in one short statement with one parameter, on PostgreSQL.

psycopg parses the text of every statement it sends and caches only short ones, so a
multi-row INSERT of a thousand rows (thousands of placeholders) costs more in the
client than on the server; an executemany sends one statement per row; and array
parameters are escaped element by element in Python. Here the rows travel as one
JSON document (`json.dumps` is C) that the server turns back into typed rows with
`json_to_recordset`, whatever their number. SQLite, in the process, gets a plain
executemany.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Executable,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import TableValuedAlias


def records_of(table: Table, names: Sequence[str], *, param: str, alias: str) -> TableValuedAlias:
    """`json_to_recordset(:<param>) AS <alias>(<name> <type>, …)`: the rows of the JSON
    array `records_param` made, typed like the columns of `table`."""
    return (
        func.json_to_recordset(cast(bindparam(param, type_=Text), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in names))
        .render_derived(name=alias, with_types=True)
    )


def records_param(rows: Sequence[Mapping[str, Any]]) -> str:
    """`rows` as the JSON text `records_of` reads (datetimes as ISO 8601 with offset)."""
    seen: dict[datetime, str] = {}  # a batch repeats a few clock times many times

    def plain(value: Any) -> str:
        if not isinstance(value, datetime):
            raise TypeError(f"{type(value).__name__} cannot be sent in a JSON record")
        text = seen.get(value)
        if text is None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use an aware datetime (UTC)")
            text = seen[value] = value.isoformat()
        return text

    return json.dumps(rows, default=plain, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=64)
def _recordset_insert(
    table: Table, names: tuple[str, ...], conflict: tuple[str, ...]
) -> Executable:
    records = records_of(table, names, param="records", alias="new_rows")
    rows = select(*(records.c[name] for name in names))
    statement = postgresql.insert(table).from_select(list(names), rows)
    if conflict:
        return statement.on_conflict_do_nothing(index_elements=list(conflict))
    return statement


def insert_many(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] = (),
) -> None:
    """Insert `rows` in one statement on PostgreSQL. The rows have the same keys; the
    Python-side default of a column they leave out is taken once for all of them. With
    `skip_conflicts_on` (a unique index's columns), a row whose key exists is left
    out, as with `INSERT … ON CONFLICT DO NOTHING`."""
    if not rows:
        return
    names = tuple(rows[0])
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = _recordset_insert(table, names, tuple(skip_conflicts_on))
        connection.execute(statement, {"records": records_param(rows)})
        return
    if not skip_conflicts_on:
        connection.execute(insert(table), list(rows))
    elif dialect == "sqlite":
        plain = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        connection.execute(plain, list(rows))
    else:
        raise RuntimeError(f"insert_many supports PostgreSQL and SQLite, not {dialect}")
