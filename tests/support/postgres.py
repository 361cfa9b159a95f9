"""Scratch PostgreSQL databases for tests and benchmarks, created and dropped by name."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _admin_execute(base_url: str, *statements: str) -> None:
    admin = create_engine(make_url(base_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
    admin.dispose()


def create_postgres_database(base_url: str, name: str, *, copy_of: str | None = None) -> str:
    """A new PostgreSQL database on the server of `base_url`, empty or a copy of the
    database `copy_of` (which nobody may be connected to); returns its URL."""
    create = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{copy_of}"' if copy_of else "")
    _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', create)
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(base_url: str, name: str) -> None:
    _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
