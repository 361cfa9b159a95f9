"""Many rows in one short statement: one binary array parameter per column on PostgreSQL.

psycopg parses the text of every statement it sends and caches only short ones, so a
multi-row INSERT of a thousand rows (thousands of placeholders) costs more in the
client than on the server, and an executemany sends one statement per row. Here each
column travels as one array in PostgreSQL's binary format (`%(name)b`: dumped in C,
no escaping, nothing for the server to parse) and `unnest` turns the arrays back into
rows, whatever their number. The statement text is built once per table and columns.
SQLite, in the process, gets a plain executemany. `update_many` changes rows by their
key the same way (`UPDATE … FROM unnest(…)`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from grids.storage.partitions import SKIP_TAKEN_KEYS

_DIALECT = postgresql.dialect()


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _is_time(table: Table, name: str) -> bool:
    kind = table.c[name].type
    return isinstance(getattr(kind, "impl_instance", kind), DateTime)


def quote(name: str) -> str:
    return _DIALECT.identifier_preparer.quote(name)


@cache
def unnest_from(table: Table, names: tuple[str, ...], alias: str) -> str:
    """`unnest(%(<alias>_<name>)b::<type>[], …) AS <alias>(<name>, …)`: rows from one
    binary array per column of `table` (JSON travels as text: read it with `column`)."""
    arrays = ", ".join(
        f"%({alias}_{name})b::"
        + ("TEXT" if _is_json(table, name) else table.c[name].type.compile(dialect=_DIALECT))
        + "[]"
        for name in names
    )
    return f"unnest({arrays}) AS {alias}({', '.join(quote(name) for name in names)})"


def column(table: Table, alias: str, name: str) -> str:
    """Column `name` of `unnest_from(table, …, alias)`, as the type of `table`'s column."""
    return f"{alias}.{quote(name)}" + ("::JSON" if _is_json(table, name) else "")


def array_params(
    table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]], alias: str
) -> dict[str, list[Any]]:
    """The parameters of `unnest_from` for `rows`: JSON values as text; a datetime
    without a time zone is refused (as `UTCDateTime` refuses it)."""
    params: dict[str, list[Any]] = {}
    for name in names:
        values = [row[name] for row in rows]
        if _is_json(table, name):
            values = [None if value is None else json.dumps(value) for value in values]
        elif _is_time(table, name) and any(
            isinstance(value, datetime) and value.tzinfo is None for value in values
        ):
            raise ValueError(f"naive datetime given for {table.name}.{name}; use UTC")
        params[f"{alias}_{name}"] = values
    return params


@cache
def _insert_text(table: Table, names: tuple[str, ...], conflict: tuple[str, ...]) -> str:
    left_out = [c.name for c in table.columns if c.default is not None and c.name not in names]
    if left_out:
        raise ValueError(
            f"rows for {table.name} leave out {', '.join(left_out)}, which have defaults: "
            "give them (insert_many applies no column defaults)"
        )
    values = ", ".join(column(table, "new_rows", name) for name in names)
    text = (
        f"INSERT INTO {_DIALECT.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(name) for name in names)}) "
        f"SELECT {values} FROM {unnest_from(table, names, 'new_rows')}"
    )
    if conflict:
        # No conflict target: on PostgreSQL the unique keys of a partitioned table live
        # in a companion table whose trigger skips a taken key (grids.storage.partitions).
        text += " ON CONFLICT DO NOTHING"
    return text


def insert_many(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] = (),
) -> None:
    """Insert `rows` (all with the same keys, every column with a default among them) in
    one statement on PostgreSQL. With `skip_conflicts_on` (a unique key's columns), a
    row whose key exists is left out, as with `INSERT … ON CONFLICT DO NOTHING` (on
    PostgreSQL, with no conflict target: a partitioned table keeps such keys in a
    companion table, docs/partitions.md)."""
    if not rows:
        return
    names = tuple(rows[0])
    dialect = connection.dialect.name
    if dialect == "postgresql":
        text = _insert_text(table, names, tuple(skip_conflicts_on))
        if skip_conflicts_on:
            connection.execute(select(func.set_config(SKIP_TAKEN_KEYS, "on", True)))
        connection.exec_driver_sql(text, array_params(table, names, rows, "new_rows"))
        if skip_conflicts_on:
            connection.execute(select(func.set_config(SKIP_TAKEN_KEYS, "off", True)))
        return
    if not skip_conflicts_on:
        connection.execute(insert(table), list(rows))
    elif dialect == "sqlite":
        plain = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        connection.execute(plain, list(rows))
    else:
        raise RuntimeError(f"insert_many supports PostgreSQL and SQLite, not {dialect}")


@cache
def _update_text(table: Table, names: tuple[str, ...], key: str) -> str:
    settings = ", ".join(f"{quote(name)} = {column(table, 'changed', name)}" for name in names)
    target = _DIALECT.identifier_preparer.format_table(table)
    return (
        f"UPDATE {target} SET {settings} "
        f"FROM {unnest_from(table, (key, *names), 'changed')} "
        f"WHERE {target}.{quote(key)} = changed.{quote(key)}"
    )


def update_many(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str = "id"
) -> None:
    """Update each row of `table` whose `key` one of `rows` names (all with the same
    keys) to that row's other values: one statement on PostgreSQL."""
    if not rows:
        return
    names = tuple(name for name in rows[0] if name != key)
    if connection.dialect.name == "postgresql":
        params = array_params(table, (key, *names), rows, "changed")
        connection.exec_driver_sql(_update_text(table, names, key), params)
        return
    # A bound parameter may not share its column's name in a SET clause.
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"row_{key}"))
        .values({name: bindparam(f"row_{name}") for name in names})
    )
    connection.execute(statement, [{f"row_{name}": row[name] for name in row} for row in rows])
