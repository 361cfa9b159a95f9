"""Two reports for the same grid and week arriving at the same moment (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.models import Grid, Patient, Reading, WeeklyReport
from grids.reports.senders import load_roster
from grids.reports.weekly import MemberUpdate, ReportOutcome, record_weekly_report
from grids.storage.database import Database
from tests.support import factories
from tests.support.locks import wait_for_a_lock_wait

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.mark.postgres
def test_concurrent_first_reports_make_one_report_with_two_revisions(db: Database) -> None:
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        fixture = factories.grid_with_members(session, tree["clinic_a"], size=8)
        session.commit()
        grid_id, coordinator_id = fixture.grid.id, fixture.coordinator.id

    def record(session: Session, seat: int, systolic: int) -> ReportOutcome:
        return record_weekly_report(
            session,
            load_roster(session, session.get_one(Grid, grid_id)),
            session.get_one(Patient, coordinator_id),
            all_stable=True,
            updates=[MemberUpdate(seat, systolic=systolic, diastolic=90)],
            now=NOW,
            tz=TZ,
        )

    outcomes: dict[str, ReportOutcome] = {}
    with db.unit_of_work() as first:
        outcomes["first"] = record(first, 3, 150)

        def second_delivery() -> None:
            with db.unit_of_work() as second:
                outcomes["second"] = record(second, 3, 160)
                second.commit()

        thread = threading.Thread(target=second_delivery)
        thread.start()
        blocked = wait_for_a_lock_wait(db, thread)
        first.commit()
    thread.join(timeout=30)

    assert blocked, "the second report never waited for the first"
    assert not thread.is_alive()
    assert (outcomes["first"].amended, outcomes["second"].amended) == (False, True)
    with db.unit_of_work() as session:
        stored = session.scalars(select(WeeklyReport)).one()
        assert stored.revisions == 2
        reading = session.scalars(select(Reading)).one()
        assert reading.systolic == 160
