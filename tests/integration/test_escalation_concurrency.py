"""Two ticks at once never notify twice (PostgreSQL: FOR UPDATE SKIP LOCKED, row versions)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from grids.escalation.models import Escalation, EscalationEvent
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.escalation import tick_at

CASES = 20
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.mark.postgres
def test_two_ticks_at_once_advance_each_escalation_once(app, session) -> None:
    from config.runtime import settings_of
    from grids.escalation.urgent import report_urgent
    from grids.reports.senders import load_roster
    from notifications import outbox
    from notifications.escalation_tick import policy_of

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

    # Never sent: 5 minutes after queuing every case escalates, once.
    later = T0 + timedelta(minutes=6)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def tick() -> None:
        barrier.wait()
        results.append(tick_at(app, later))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(results) == CASES
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
        .where(OutboxMessage.idempotency_key.like("esc:%:1:1:%"))
    )
    assert told == queued == CASES * (CASES - 1)
