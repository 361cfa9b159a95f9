"""Many rows in one short statement: one array parameter per column on PostgreSQL.

psycopg parses the text of every statement it sends and caches only short ones, so a
multi-row INSERT of a thousand rows (thousands of placeholders) costs more in the
client than on the server, and an executemany sends one statement per row. Sending
one array per column and reading the rows back with `unnest` keeps the statement
short and its parameters few, whatever the number of rows. SQLite, in the process,
gets a plain executemany.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
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


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def arrays_of(table: Table, names: Sequence[str], *, prefix: str, alias: str) -> TableValuedAlias:
    """`unnest(:<prefix><name>, …) AS <alias>(<name>, …)`: rows from one array parameter
    per column of `table`, typed like the columns (JSON travels as text; cast it back
    with `typed`)."""
    return (
        func.unnest(
            *(
                bindparam(
                    f"{prefix}{name}",
                    type_=ARRAY(Text if _is_json(table, name) else table.c[name].type),
                )
                for name in names
            )
        )
        .table_valued(*(column(name) for name in names))
        .render_derived(name=alias)
    )


def typed(table: Table, arrays: TableValuedAlias, name: str) -> ColumnElement[Any]:
    """Column `name` of `arrays`, as the type of `table`'s column."""
    value = arrays.c[name]
    return cast(value, table.c[name].type) if _is_json(table, name) else value


def array_params(
    table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]], *, prefix: str
) -> dict[str, list[Any]]:
    """The parameters of `arrays_of` for `rows` (JSON values as text)."""
    params: dict[str, list[Any]] = {}
    for name in names:
        if _is_json(table, name):
            params[f"{prefix}{name}"] = [
                None if row[name] is None else json.dumps(row[name]) for row in rows
            ]
        else:
            params[f"{prefix}{name}"] = [row[name] for row in rows]
    return params


@lru_cache(maxsize=64)
def _unnest_insert(table: Table, names: tuple[str, ...], conflict: tuple[str, ...]) -> Executable:
    arrays = arrays_of(table, names, prefix="u_", alias="new_rows")
    rows = select(*(typed(table, arrays, name) for name in names))
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
        statement = _unnest_insert(table, names, tuple(skip_conflicts_on))
        connection.execute(statement, array_params(table, names, rows, prefix="u_"))
        return
    if not skip_conflicts_on:
        connection.execute(insert(table), list(rows))
    elif dialect == "sqlite":
        plain = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        connection.execute(plain, list(rows))
    else:
        raise RuntimeError(f"insert_many supports PostgreSQL and SQLite, not {dialect}")
