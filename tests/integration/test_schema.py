from __future__ import annotations

import os

import pytest
from sqlalchemy import inspect

from grids.storage import migrate
from grids.storage.database import Base
from tests.support.postgres import create_postgres_database, drop_postgres_database


def test_migrations_create_every_model_table(db) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {table.name for table in Base.metadata.sorted_tables} <= tables


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    migrate.check(database_url)


def test_db_upgrade_command_reports_the_revision(runner) -> None:
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "head" in result.output


def test_every_migration_downgrades_and_upgrades_again(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    migrate.check(url)


@pytest.mark.postgres
def test_downgrade_and_upgrade_on_postgres(database_url: str) -> None:
    name = f"huzhu_roundtrip_{os.getpid()}"
    url = create_postgres_database(database_url, name)
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        migrate.upgrade(url)
        migrate.check(url)
    finally:
        drop_postgres_database(database_url, name)
