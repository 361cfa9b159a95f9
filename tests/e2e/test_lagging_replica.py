"""Pages read a replica that lags behind: a frozen copy of the database stands for a
replica whose replay is paused (tests/integration/test_streaming_replica.py runs a
real one on PostgreSQL). What a person just did still shows where it must: the
reply to an SMS, the member's record right after a follow-up is saved, the login."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.accounts.service import disable_user
from grids.models import Membership, Reading
from grids.storage.database import Database
from grids.storage.session import dispose_all
from tests.support import factories
from tests.support.accounts import csrf_token, log_in, make_user
from tests.support.app import make_app
from tests.support.queries import count
from tests.support.replica import drop_copy, frozen_copy
from tests.support.webhooks import send

INSTANT = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)  # Friday 10:00 in the county, W02
WEEK = "2027-W02"


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    with time_machine.travel(INSTANT, tick=True):
        yield


@pytest.fixture
def grid(session: Session) -> factories.GridFixture:
    tree = factories.facility_tree(session, prefix="LR")
    built = factories.grid_with_members(session, tree["clinic_a"], size=4, code="LR-G1")
    for membership in session.scalars(select(Membership)):
        membership.joined_at = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    assert built.doctor is not None
    make_user(session, "wang", "doctor", doctor_code=built.doctor.code)
    session.commit()
    return built


@pytest.fixture
def lagging(database_url: str, db: Database, grid: factories.GridFixture) -> Iterator[Flask]:
    """The service on the test database, reading from a copy frozen now."""
    replica_url = frozen_copy(db)
    app = make_app(database_url, database_read_url=replica_url)
    yield app
    dispose_all(app)
    drop_copy(replica_url)


def test_an_sms_is_applied_on_the_primary_while_pages_show_the_replica(
    lagging: Flask, db: Database, grid: factories.GridFixture
) -> None:
    client = lagging.test_client()
    log_in(client, "wang")
    reply = send(client, factories.phone_of(grid.coordinator), "3 血压150/95")
    assert "150/95" in reply
    assert count(db, Reading) == 1
    page = client.get(f"/grids/{grid.grid.code}?week={WEEK}").get_data(as_text=True)
    assert "血压150/95" not in page  # the replica has not heard of it yet


def test_the_member_page_after_saving_a_follow_up_shows_it(
    lagging: Flask, grid: factories.GridFixture
) -> None:
    client = lagging.test_client()
    log_in(client, "wang")
    doctor = grid.doctor
    assert doctor is not None
    member = grid.members[3]
    form = client.get(f"/members/{member.code}/followups/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(form),
        "date": "2027-01-15",
        "method": "exchange",
        "bp": "150/95",
        "classification": "controlled",
    }
    saved = client.post(f"/members/{member.code}/followups/new", data=data)
    assert saved.status_code == 302
    member_page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "随访已保存" in member_page and "2027-04-15" in member_page
    # The doctor's page reads the replica: the member is still on the list there.
    assert "本周随访（4人）" in client.get(f"/doctors/{doctor.code}").get_data(as_text=True)


def test_a_disabled_login_is_refused_though_the_replica_still_has_it(
    lagging: Flask, db: Database, grid: factories.GridFixture
) -> None:
    client = lagging.test_client()
    log_in(client, "wang")
    assert client.get(f"/grids/{grid.grid.code}").status_code == 200
    with db.unit_of_work() as session:
        disable_user(session, "wang")
        session.commit()
    refused = client.get(f"/grids/{grid.grid.code}")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
