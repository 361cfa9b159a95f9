"""Many rows in one statement (`grids.storage.bulk.insert_many`): all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from grids.escalation.models import Escalation, EscalationEvent
from grids.storage.bulk import insert_many

AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _case(session: Session) -> Escalation:
    case = Escalation(code="K7Q", step_started_at=AT, opened_at=AT, updated_at=AT)
    session.add(case)
    session.flush()
    return case


def _entry(case: Escalation, at: datetime, **changes: object) -> dict[str, object]:
    return {
        "escalation_id": case.id,
        "at": at,
        "kind": "notified",
        "step": 0,
        "round": 1,
        "recipient": "+8613900000001",
        "recipient_name": "王医生",
        "channel": "sms",
        "detail": None,
    } | changes


def test_rows_come_back_as_they_were_given(session: Session) -> None:
    case = _case(session)
    entries = [_entry(case, AT, step=n, detail=f'第{n}步 "quoted" \\ {{braces}}') for n in range(3)]
    insert_many(session.connection(), EscalationEvent.__table__, entries)
    session.commit()

    stored = session.scalars(select(EscalationEvent).order_by(EscalationEvent.step)).all()
    assert [(e.step, e.detail, e.recipient_name, e.at) for e in stored] == [
        (n, f'第{n}步 "quoted" \\ {{braces}}', "王医生", AT) for n in range(3)
    ]


def test_a_time_without_a_zone_is_refused_and_nothing_is_written(session: Session) -> None:
    case = _case(session)
    session.commit()
    entries = [_entry(case, AT), _entry(case, datetime(2026, 11, 26, 2, 0))]
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        insert_many(session.connection(), EscalationEvent.__table__, entries)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(EscalationEvent)) == 0
