"""Two ticks at once never notify twice: on PostgreSQL they take disjoint cases (FOR UPDATE
SKIP LOCKED, row versions); on SQLite the second waits for the first, or skips its turn."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.runtime import settings_of
from grids.escalation.keys import like_pattern
from grids.escalation.models import Escalation, EscalationEvent
from grids.storage.session import database_of
from notifications.escalation.tick import run_escalation_tick
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.escalation import tick_at

CASES = 20
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _open_cases(app, session: Session) -> None:
    """CASES urgent reports at T0 whose doctor SMS are queued and never sent."""
    from grids.escalation.policy import policy_of
    from grids.escalation.urgent import report_urgent
    from grids.reports.senders import load_roster
    from notifications import outbox

    tree = factories.facility_tree(session)
    fixtures = [
        factories.grid_with_members(session, tree["clinic_a"], size=3, code=f"G{i:03d}")
        for i in range(CASES)
    ]
    for fixture in fixtures:
        outcome = report_urgent(
            session,
            reporter=fixture.coordinator,
            roster=load_roster(session, fixture.grid),
            seat=2,
            text="头晕",
            now=T0,
            policy=policy_of(settings_of(app)),
        )
        outbox.enqueue_many(session, outcome.notices, now=T0)
    session.commit()


def _ticks_at_once(app, count: int, at: datetime) -> list[int]:
    """What each of `count` ticks started together returned; none may fail."""
    results: list[int] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(count)

    def tick() -> None:
        barrier.wait()
        try:
            results.append(tick_at(app, at))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=tick) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def _assert_each_case_escalated_once(session: Session) -> None:
    assert (
        session.scalar(select(func.count()).select_from(Escalation).where(Escalation.step == 1))
        == CASES
    )
    escalated = session.scalar(
        select(func.count()).select_from(EscalationEvent).where(EscalationEvent.kind == "escalated")
    )
    assert escalated == CASES
    # Step 1 is the clinic's other doctors (each grid brought its own): told once each.
    told = session.scalar(
        select(func.count())
        .select_from(EscalationEvent)
        .where(EscalationEvent.kind == "notified", EscalationEvent.step == 1)
    )
    queued = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.idempotency_key.like(like_pattern(step=1, round_=1)))
    )
    assert told == queued == CASES * (CASES - 1)


@pytest.mark.postgres
def test_two_ticks_at_once_advance_each_escalation_once(app, session) -> None:
    _open_cases(app, session)
    # Never sent: 5 minutes after queuing every case escalates, once.
    results = _ticks_at_once(app, 4, T0 + timedelta(minutes=6))

    assert sum(results) == CASES
    _assert_each_case_escalated_once(session)


def test_two_ticks_at_once_on_sqlite_take_turns(app, session, caplog) -> None:
    if database_of(app).is_postgresql:
        pytest.skip("SQLite's single writer; PostgreSQL is covered above")
    _open_cases(app, session)

    with caplog.at_level(logging.INFO, logger="notifications.escalation.tick"):
        results = _ticks_at_once(app, 2, T0 + timedelta(minutes=6))

    # The second waited for the first and then found nothing left to do.
    assert sorted(results) == [0, CASES]
    assert not [record for record in caplog.records if record.exc_info]
    _assert_each_case_escalated_once(session)


def test_a_tick_on_sqlite_skips_its_turn_while_another_writer_holds_on(
    app, session, caplog
) -> None:
    db = database_of(app)
    if db.is_postgresql:
        pytest.skip("SQLite's single writer")
    _open_cases(app, session)
    later = T0 + timedelta(minutes=6)

    with db.engine.connect() as other:
        other.exec_driver_sql("BEGIN IMMEDIATE")  # another tick, mid-batch
        with caplog.at_level(logging.INFO, logger="notifications.escalation.tick"):
            skipped = run_escalation_tick(db, settings_of(app), later, lock_wait_seconds=0)
        other.rollback()

    assert skipped == 0
    (record,) = [r for r in caplog.records if r.name == "notifications.escalation.tick"]
    assert record.levelno == logging.WARNING
    assert "skipped" in record.getMessage() and "another tick" in record.getMessage()
    assert record.exc_info is None
    assert (
        session.scalar(select(func.count()).select_from(Escalation).where(Escalation.step == 1))
        == 0
    )
    session.rollback()

    # The next tick carries on.
    assert tick_at(app, later) == CASES
    _assert_each_case_escalated_once(session)
