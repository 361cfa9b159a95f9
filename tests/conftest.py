"""Shared fixtures. The database is PostgreSQL when DATABASE_URL names one, else SQLite.

Each pytest-xdist worker gets a database of its own, migrated once with Alembic;
tests that touch it get every table emptied afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from grids.storage import migrate
from grids.storage.database import Database
from grids.storage.session import database_of
from notifications.spool import stop_replaying
from tests.support.app import empty_all_tables, make_app
from tests.support.postgres import create_postgres_database, drop_postgres_database

BACKEND_URL = os.environ.get("DATABASE_URL", "")
USES_POSTGRES = BACKEND_URL.startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if USES_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL to run it")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _run_id() -> str:
    """Unique per pytest process, so runs side by side never share a database."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if USES_POSTGRES:
        name = f"huzhu_test_{_run_id()}"
        url = create_postgres_database(BACKEND_URL, name)
        migrate.upgrade(url)
        yield url
        drop_postgres_database(BACKEND_URL, name)
        return
    path: Path = tmp_path_factory.mktemp("db") / "huzhu-test.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    yield url


@pytest.fixture(autouse=True)
def _no_replay_after_the_test() -> Iterator[None]:
    """A spool replay thread started by a test (any app) ends with it."""
    yield
    stop_replaying()


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url)
    yield application
    # A message spooled by a test must not be replayed into the next test's tables
    # (empty_all_tables waits for the hierarchy rebuilds).
    stop_replaying()
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    return database_of(app)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.unit_of_work() as session:
        yield session


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
