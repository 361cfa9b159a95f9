"""Raw SMS text and numbers kept RAW_TEXT_RETENTION_DAYS (400), then reduced to what the
rollups and the audit need (docs/partitions.md); on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from config.logging import mask_phone
from config.runtime import settings_of
from grids.rollups.service import rollup_document
from grids.storage.database import Database
from notifications.inbound.records import stored
from notifications.models import InboundMessage, OutboxMessage
from scheduling.jobs.housekeeping import raw_text_retention
from tests.support import rollup_fixture as fx

NOW = datetime(2028, 3, 1, 2, 0, tzinfo=UTC)
PHONE = "+8613912345678"


def _inbound(sid: str, days: int, outcome: str = "applied") -> InboundMessage:
    return InboundMessage(
        message_sid=sid,
        from_phone=PHONE,
        body="好 5 血压165/100 张三",
        params={"From": PHONE},
        received_at=NOW - timedelta(days=days),
        command="report",
        outcome=outcome,
        reply="第9周周报已收到：5号血压165/100",
    )


def _outbox(key: str, days: int, status: str = "delivered") -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=key,
        to_phone=PHONE,
        template="sms.reply.report_ok",
        params={"name": "张三"},
        language="zh_CN",
        body="张三，第9周周报已收到。",
        status=status,
        error_message=f"number {PHONE} unreachable",
        created_at=NOW - timedelta(days=days),
    )


def test_rows_past_the_limit_lose_text_and_number_younger_ones_keep_them(app, db: Database) -> None:
    with db.unit_of_work() as session:
        session.add_all(
            [
                _inbound("SM-old", 401),
                _inbound("SM-young", 399),
                _inbound("SM-unapplied", 401, outcome="received"),
                _outbox("old", 401),
                _outbox("young", 399),
                _outbox("unsent", 401, status="pending"),
            ]
        )
        session.commit()

    result = raw_text_retention(db, settings_of(app), NOW)

    assert result.note == "2 inbound, 1 outbox rows reduced"
    with db.unit_of_work() as session:
        inbound = {row.message_sid: row for row in session.scalars(select(InboundMessage))}
        outbox = {row.idempotency_key: row for row in session.scalars(select(OutboxMessage))}
        old = inbound["SM-old"]
        assert (old.body, old.params, old.reply) == ("", {}, None)
        assert old.from_phone == mask_phone(PHONE) == "+86139****5678"
        assert (old.command, old.outcome, old.redacted_at) == ("report", "applied", NOW)
        assert inbound["SM-young"].body == "好 5 血压165/100 张三"
        assert inbound["SM-young"].from_phone == PHONE
        # Never applied in 400 days: reduced, and never applied without its text.
        unapplied = inbound["SM-unapplied"]
        assert (unapplied.body, unapplied.outcome) == ("", "expired")

        sent = outbox["old"]
        assert (sent.body, sent.params, sent.error_message) == ("", {}, None)
        assert sent.to_phone == "+86139****5678"
        assert (sent.template, sent.status, sent.redacted_at) == (
            "sms.reply.report_ok",
            "delivered",
            NOW,
        )
        assert (
            outbox["young"].body == "张三，第9周周报已收到。" and outbox["young"].to_phone == PHONE
        )
        # Not sent yet: it must not go out empty.
        assert outbox["unsent"].body == "张三，第9周周报已收到。"

    assert raw_text_retention(db, settings_of(app), NOW).note == "0 inbound, 0 outbox rows reduced"


def test_reduced_rows_still_dedupe_and_old_weeks_add_up_the_same(app, db: Database) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    with db.unit_of_work() as session:
        county = fx.build(session)
        fx.add_messages(session, county)
        session.commit()
        before = rollup_document(session, "grid", "R-A", fx.WEEK, fx.NOW, tz)

    later = fx.NOW + timedelta(days=401)
    raw_text_retention(db, settings_of(app), later)

    with db.unit_of_work() as session:
        after = rollup_document(session, "grid", "R-A", fx.WEEK, fx.NOW, tz)
        bodies = set(session.scalars(select(InboundMessage.body)))
        assert bodies == {""}
    assert after == before
    assert after["indicators"] == fx.EXPECTED_GRID_A

    # The MessageSid of a reduced message still answers a provider's retry.
    with db.unit_of_work() as session:
        assert stored(session, "SM-W48-A1") is not None
