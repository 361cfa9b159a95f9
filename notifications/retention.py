"""Raw SMS text and full numbers kept no longer than needed (PIPL; docs/partitions.md).

Outbox and inbound rows older than `RAW_TEXT_RETENTION_DAYS` lose what identifies a
person or says what they wrote: the text, the template parameters, the reply, the
provider's error text, and all but the ends of the number. What rollups, the audit
and the dedupe keys need stays: the idempotency key and MessageSid, times, template,
command, outcome, status, the sender's or recipient's id, and the masked number.

An outbox message not yet sent (`pending`, `sending`) is left alone: it would
otherwise go out empty. An inbound message stored and still not applied that long
after (`received`) is reduced and marked `expired`, so it is never applied without
its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, String, and_, case, cast, func, literal, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from notifications.inbound.context import Outcome
from notifications.models import InboundMessage, OutboxMessage, OutboxStatus

BATCH = 10_000
"""Rows reduced per statement and transaction: short locks, a first run over years of
history does not hold one long transaction."""

IN_FLIGHT = (OutboxStatus.PENDING, OutboxStatus.SENDING)


@dataclass(frozen=True)
class Redacted:
    inbound: int
    outbox: int

    @property
    def total(self) -> int:
        return self.inbound + self.outbox


def masked(phone: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]) -> ColumnElement:
    """`+8613912345678` → `+86139****5678` in SQL, on both databases: the mask of
    `config.logging.mask_phone` for E.164 numbers (first six characters, last four);
    anything shorter than 11 characters is masked whole."""
    length = func.length(phone)
    kept = func.substr(phone, 1, 6) + literal("****") + func.substr(phone, length - 3)
    return case((length >= 11, cast(kept, String)), else_=literal("****"))


def cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def redact_raw_text(session: Session, now: datetime, days: int) -> Redacted:
    """Reduce every finished outbox and inbound row older than `days` before `now`,
    committing after each batch; returns how many rows of each were reduced. A second
    run finds nothing left to do."""
    before = cutoff(now, days)
    inbound = _in_batches(
        session,
        InboundMessage,
        and_(
            InboundMessage.redacted_at.is_(None),
            InboundMessage.received_at < before,
        ),
        {
            "body": "",
            "params": {},
            "reply": None,
            "from_phone": masked(InboundMessage.from_phone),
            "outcome": case(
                (InboundMessage.outcome == Outcome.RECEIVED, literal(Outcome.EXPIRED)),
                else_=InboundMessage.outcome,
            ),
            "redacted_at": now,
        },
    )
    outbox = _in_batches(
        session,
        OutboxMessage,
        and_(
            OutboxMessage.redacted_at.is_(None),
            OutboxMessage.created_at < before,
            OutboxMessage.status.not_in([str(status) for status in IN_FLIGHT]),
        ),
        {
            "body": "",
            "params": {},
            "error_message": None,
            "to_phone": masked(OutboxMessage.to_phone),
            "redacted_at": now,
            "updated_at": now,
        },
    )
    return Redacted(inbound=inbound, outbox=outbox)


def _in_batches(
    session: Session,
    model: type[InboundMessage] | type[OutboxMessage],
    due: ColumnElement[bool],
    values: dict[str, object],
) -> int:
    done = 0
    while True:
        batch = select(model.id).where(due).limit(BATCH).scalar_subquery()
        result = session.execute(
            update(model).where(model.id.in_(batch), due).values(values),
            execution_options={"synchronize_session": False},
        )
        session.commit()
        count = max(int(getattr(result, "rowcount", 0) or 0), 0)
        done += count
        if count < BATCH:
            return done
