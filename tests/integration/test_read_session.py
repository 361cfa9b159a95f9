"""The read session: it refuses writes, falls back to the primary without a replica,
and fails over to the primary (with a warning that hides the password) when the
replica does not answer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from grids.models import Membership, Patient
from grids.storage.database import Database, ReadOnlySessionError
from grids.storage.session import dispose_all, read_session, request_session
from tests.support import factories
from tests.support.accounts import log_in, make_user
from tests.support.app import make_app
from tests.support.clock import running_at
from tests.support.servers import free_port

PASSWORD = "s3cret-replica-password"


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with running_at():
        yield


@pytest.fixture
def grid(session: Session) -> factories.GridFixture:
    tree = factories.facility_tree(session, prefix="RS")
    built = factories.grid_with_members(session, tree["clinic_a"], size=4, code="RS-G1")
    for membership in session.scalars(select(Membership)):
        membership.joined_at = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    assert built.doctor is not None
    make_user(session, "wang", "doctor", doctor_code=built.doctor.code)
    session.commit()
    return built


def test_a_read_session_refuses_orm_writes(app: Flask, grid: factories.GridFixture) -> None:
    with app.app_context():
        reader = read_session()
        patient = reader.get(Patient, grid.members[2].id)
        assert patient is not None
        patient.name = "changed"
        with pytest.raises(ReadOnlySessionError, match="request_session"):
            reader.flush()
        reader.rollback()
        with pytest.raises(ReadOnlySessionError, match="INSERT, UPDATE or DELETE"):
            reader.execute(update(Patient).values(name="changed"))
    with app.app_context():
        # The primary's request session writes as before.
        request_session().execute(update(Patient).values(name="changed"))
        request_session().commit()


def test_without_a_replica_reads_are_on_the_primary(app: Flask, db: Database) -> None:
    with app.app_context():
        bind = read_session().get_bind()
        assert isinstance(bind, Engine) and bind.url == db.engine.url
        assert read_session() is not request_session()
        assert read_session() is read_session()


@pytest.mark.postgres
def test_on_postgresql_the_server_refuses_a_raw_write_and_the_pool_stays_writable(
    app: Flask, grid: factories.GridFixture
) -> None:
    for _round in range(3):  # the same pooled connections serve readers and writers
        with app.app_context():
            reader = read_session()
            assert reader.scalar(text("SHOW transaction_read_only")) == "on"
            with pytest.raises(DBAPIError, match="read-only transaction"):
                reader.execute(text("UPDATE patients SET name = 'changed'"))
        with app.app_context():
            writer = request_session()
            assert writer.scalar(text("SHOW transaction_read_only")) == "off"
            writer.execute(text("UPDATE patients SET name = name"))
            writer.commit()


def unreachable_replica(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("postgresql"):
        return f"postgresql+psycopg://reader:{PASSWORD}@127.0.0.1:{free_port()}/huzhu"
    return f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it


def test_pages_fail_over_to_the_primary_when_the_replica_does_not_answer(
    database_url: str,
    grid: factories.GridFixture,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(database_url, database_read_url=unreachable_replica(database_url, tmp_path))
    try:
        client = app.test_client()
        log_in(client, "wang")
        caplog.set_level(logging.WARNING, logger="grids.storage.replica")
        for _load in range(2):
            page = client.get(f"/grids/{grid.grid.code}")
            assert page.status_code == 200
            assert grid.members[2].name in page.get_data(as_text=True)
        warnings = [r for r in caplog.records if r.name == "grids.storage.replica"]
        # One warning: the second page does not try the replica again straight away.
        assert len(warnings) == 1
        assert "pages read the primary" in warnings[0].getMessage()
        assert PASSWORD not in caplog.text
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.get_json()["replica"] == "unreachable"
    finally:
        dispose_all(app)
