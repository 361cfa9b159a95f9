"""Alembic environment: the schema of every package's models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

import grids.accounts.models
import grids.escalation.models
import grids.exchanges.models
import grids.followups.models
import grids.models
import grids.rollups.models
import grids.silence.models  # noqa: F401
import notifications.models  # noqa: F401
import scheduling.models  # noqa: F401
from config.settings import load_settings
from grids.storage.database import Base, UTCDateTime, build_engine
from grids.storage.partitions import COMPANIONS, PG_LAYOUT_DIFFERENCES, is_partition_name

COMPANION_TABLES = frozenset(companion for companion, _keys in COMPANIONS.values())

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our own column types as plain SQLAlchemy ones, so revisions import nothing of ours."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _include_object(dialect: str) -> Callable[..., bool]:
    """On PostgreSQL, leave out of the comparison what the models cannot say: the
    partitions and companion tables of partitioned history, and the constraints
    PostgreSQL holds another way (grids.storage.partitions)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if dialect != "postgresql" or name is None:
            return True
        if type_ == "table":
            return not (reflected and (is_partition_name(name) or name in COMPANION_TABLES))
        if type_ == "foreign_key_constraint" and reflected:
            # PostgreSQL's own per-partition copies of a key referring to a partitioned table.
            referred = obj.elements[0].target_fullname.rsplit(".", 1)[0]
            if is_partition_name(referred.rsplit(".", 1)[-1]):
                return False
        return name not in PG_LAYOUT_DIFFERENCES

    return include


def _configure(connection: Connection) -> None:
    context.configure(
        include_object=_include_object(connection.dialect.name),
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = build_engine(_url())
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
