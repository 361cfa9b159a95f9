"""Twilio delivering the same message twice at the same moment: one is applied, both
get its reply."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from config.runtime import settings_of
from grids.models import UrgentReport
from grids.storage.database import Database
from notifications.inbound import IncomingSms, receive
from notifications.models import InboundMessage, OutboxMessage
from tests.support.county import build_county
from tests.support.locks import wait_for_a_lock_wait
from tests.support.webhooks import new_sid, twilio_form

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def test_a_second_delivery_during_the_first_gets_the_first_reply(app, db: Database) -> None:
    county = build_county(db)
    sid = new_sid()
    assert county.zh.coordinator.phone is not None
    sms = IncomingSms.from_form(twilio_form(county.zh.coordinator.phone, "急 5 胸痛", sid))
    results: list[str | None] = []

    with db.unit_of_work() as first:
        # The first delivery, mid-flight: its row is written but not yet committed.
        first.add(
            InboundMessage(
                message_sid=sid,
                from_phone=sms.from_phone,
                body=sms.body,
                outcome="applied",
                reply="the first delivery's reply",
            )
        )
        first.flush()
        second = threading.Thread(
            target=lambda: results.append(receive(db, settings_of(app), sms, NOW))
        )
        second.start()
        blocked = wait_for_a_lock_wait(db, second)
        first.commit()
    second.join(timeout=30)

    assert blocked, f"the second delivery never waited for the first: {results}"
    assert results == ["the first delivery's reply"]
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
        assert session.scalar(select(func.count()).select_from(UrgentReport)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
