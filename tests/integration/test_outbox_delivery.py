"""Delivery statuses from the provider move a sent row forward, never back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from notifications import contacts
from notifications.delivery import record_status
from notifications.models import OutboxMessage
from notifications.outbox import enqueue

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SID = "SM" + "a" * 32
PHONE = "+8613912345678"


@pytest.fixture
def sent(session: Session) -> OutboxMessage:
    row = enqueue(
        session,
        Notice(key="k", phone=PHONE, language="zh_CN", template="sms.test"),
        now=NOW,
    )
    assert row is not None
    row.status, row.provider_sid, row.attempts, row.sent_at = "sent", SID, 1, NOW
    session.commit()
    return row


def statuses(session: Session, row: OutboxMessage, *updates: tuple[str, str | None]) -> list[str]:
    seen = []
    for offset, (status, code) in enumerate(updates):
        record_status(session, SID, status, code, NOW + timedelta(seconds=offset))
        session.commit()
        session.refresh(row)
        seen.append(row.status)
    return seen


def test_delivered_is_recorded(session: Session, sent: OutboxMessage) -> None:
    assert statuses(session, sent, ("sent", None), ("delivered", None)) == ["sent", "delivered"]
    assert sent.updated_at == NOW + timedelta(seconds=1)


def test_a_late_sent_after_delivered_changes_nothing(session: Session, sent: OutboxMessage) -> None:
    seen = statuses(session, sent, ("delivered", None), ("sent", None), ("queued", None))
    assert seen == ["delivered", "delivered", "delivered"]


def test_undelivered_keeps_the_error_code(session: Session, sent: OutboxMessage) -> None:
    assert statuses(session, sent, ("undelivered", "30003")) == ["undelivered"]
    assert sent.error_code == "30003"
    assert "30003" in (sent.error_message or "")


def test_a_failed_status_with_21610_opts_the_number_out(
    session: Session, sent: OutboxMessage
) -> None:
    assert statuses(session, sent, ("failed", "21610")) == ["failed"]
    assert contacts.is_opted_out(session, PHONE)


def test_an_invalid_number_reported_later_is_flagged(session: Session, sent: OutboxMessage) -> None:
    statuses(session, sent, ("failed", "21614"))
    assert contacts.is_invalid(session, PHONE)


def test_an_unknown_sid_returns_none(session: Session, sent: OutboxMessage) -> None:
    assert record_status(session, "SM" + "f" * 32, "delivered", None, NOW) is None
    session.refresh(sent)
    assert sent.status == "sent"
