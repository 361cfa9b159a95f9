"""A real streaming replica: pages, exports and rollups are read from it, the
webhook writes to the primary.

The test starts its own PostgreSQL primary and hot standby (initdb, pg_basebackup
-R, on free ports, removed afterwards) and pauses the standby's replay: a report
the coordinator texts in reaches the primary at once, while the pages, the rollup
API and `rollups show` keep showing the replica's week until replay resumes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from grids.accounts.service import disable_user
from grids.models import Reading
from grids.storage import migrate
from grids.storage.database import Database
from grids.storage.session import database_of, dispose_all, read_session, request_session
from i18n import translate
from notifications.models import InboundMessage
from tests.support.accounts import bearer, log_in, make_user, token_for
from tests.support.app import make_app
from tests.support.clock import running_at
from tests.support.county import THURSDAY, County, build_county
from tests.support.factories import phone_of
from tests.support.replica import StreamingPair, server_binaries, streaming_pair
from tests.support.webhooks import send

BINDIR = server_binaries()

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        BINDIR is None,
        reason="needs the PostgreSQL server programs (initdb, pg_ctl, pg_basebackup) "
        "under /usr/lib/postgresql/*/bin",
    ),
]

WEEK = "2026-W48"  # THURSDAY's week
REPORT = "5 血压150/95"


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    assert BINDIR is not None
    with streaming_pair(BINDIR) as running:
        yield running


@pytest.fixture
def replicated(
    pair: StreamingPair, request: pytest.FixtureRequest
) -> Iterator[tuple[Flask, County, str]]:
    """The service on the primary, reading from the replica, with a county and a doctor's
    login and API token, all replayed on the replica (a database of its own per test)."""
    name = f"huzhu_{request.node.name[5:40]}"
    pair.primary.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(pair.primary.url(name))
    loader = Database(pair.primary.url(name))
    with running_at(THURSDAY - timedelta(days=3)):  # members joined before the week's report
        county = build_county(loader)
    loader.dispose()
    app = make_app(pair.primary.url(name), database_read_url=pair.replica.url(name))
    doctor = county.zh.doctor
    assert doctor is not None
    with database_of(app).unit_of_work() as session:
        make_user(session, "zhang", "doctor", doctor_code=doctor.code)
        token = token_for(session, "zhang")
        session.commit()
    pair.catch_up()
    yield app, county, token
    dispose_all(app)
    pair.resume_replay()


def reading_count(app: Flask) -> int:
    with database_of(app).unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Reading)) or 0


def members_with_reading(client: Any, token: str, grid_code: str) -> int:
    answer = client.get(
        f"/api/v1/rollups?level=grid&code={grid_code}&week={WEEK}", headers=bearer(token)
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return int(answer.get_json()["indicators"]["members_with_reading"])


def exported_with_reading(client: Any, grid_code: str) -> str:
    """The grid's `members_with_reading` in the page's CSV export."""
    answer = client.get(f"/exports/grid/{grid_code}.csv?week={WEEK}&lang=en")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    return rows[0][translate("rollups.field.members_with_reading", "en")]


def shown_by_rollups_show(app: Flask, grid_code: str) -> int:
    command = ["rollups", "show", "--level", "grid", "--format", "json"]
    result = app.test_cli_runner().invoke(args=[*command, "--code", grid_code, "--week", WEEK])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.output)["indicators"]["members_with_reading"])


def test_the_read_session_is_on_the_standby_and_the_request_session_on_the_primary(
    replicated: tuple[Flask, County, str], pair: StreamingPair
) -> None:
    app, _county, _token = replicated
    with app.app_context():
        assert read_session().scalar(text("SELECT pg_is_in_recovery()")) is True
        assert read_session().scalar(text("SELECT inet_server_port()")) == pair.replica.port
        assert request_session().scalar(text("SELECT pg_is_in_recovery()")) is False
        assert request_session().scalar(text("SELECT inet_server_port()")) == pair.primary.port
    assert app.test_client().get("/healthz").get_json()["replica"] == "ok"


def test_pages_come_from_the_replica_while_the_webhook_writes_to_the_primary(
    replicated: tuple[Flask, County, str], pair: StreamingPair
) -> None:
    app, county, token = replicated
    grid_code = county.zh.grid.code
    client = app.test_client()
    with running_at(THURSDAY):
        assert log_in(client, "zhang").status_code == 302
        assert REPORT not in client.get(f"/grids/{grid_code}?week={WEEK}").get_data(as_text=True)

        pair.pause_replay()
        reply = send(client, phone_of(county.zh.coordinator), REPORT)
        assert "150/95" in reply  # the confirmation restates the reading

        # The primary has the report and its reading at once...
        assert reading_count(app) == 1
        with database_of(app).unit_of_work() as session:
            bodies = session.scalars(select(InboundMessage.body)).all()
        assert REPORT in bodies
        # ...the replica, paused, does not: the grid page, the rollup API and
        # `rollups show` are read from it. The login is checked on the primary.
        page = client.get(f"/grids/{grid_code}?week={WEEK}")
        assert page.status_code == 200
        assert REPORT not in page.get_data(as_text=True)
        assert members_with_reading(client, token, grid_code) == 0
        assert shown_by_rollups_show(app, grid_code) == 0
        assert exported_with_reading(client, grid_code) == "0"

        pair.resume_replay()
        pair.catch_up()
        assert REPORT in client.get(f"/grids/{grid_code}?week={WEEK}").get_data(as_text=True)
        assert members_with_reading(client, token, grid_code) == 1
        assert shown_by_rollups_show(app, grid_code) == 1
        assert exported_with_reading(client, grid_code) == "1"


def test_the_standby_refuses_a_write_sent_through_the_read_session(
    replicated: tuple[Flask, County, str],
) -> None:
    app, _county, _token = replicated
    with app.app_context():
        session = read_session()
        with pytest.raises(DBAPIError, match="read-only transaction"):
            session.execute(text("UPDATE patients SET name = name"))


def test_a_revoked_login_is_refused_before_the_replica_hears_of_it(
    replicated: tuple[Flask, County, str], pair: StreamingPair
) -> None:
    app, county, token = replicated
    page = f"/grids/{county.zh.grid.code}?week={WEEK}"
    client = app.test_client()
    with running_at(THURSDAY):
        log_in(client, "zhang")
        assert client.get(page).status_code == 200
        pair.pause_replay()
        with database_of(app).unit_of_work() as session:
            disable_user(session, "zhang")
            session.commit()
        # The replica still has the account enabled; logins are checked on the primary.
        refused = client.get(page)
        assert refused.status_code == 302
        assert "/login" in refused.headers["Location"]
        answer = client.get(
            f"/api/v1/rollups?level=grid&code={county.zh.grid.code}", headers=bearer(token)
        )
        assert answer.status_code == 401
