"""The stored row of an inbound message (`InboundMessage`): its values and finding it
again by MessageSid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.inbound.message import IncomingSms
from notifications.models import InboundMessage


def stored(session: Session, message_sid: str) -> InboundMessage | None:
    return session.scalar(select(InboundMessage).where(InboundMessage.message_sid == message_sid))


def new_row(sms: IncomingSms, now: datetime, outcome: str = "received") -> InboundMessage:
    return InboundMessage(**row_values(sms, now, outcome))


def row_values(sms: IncomingSms, now: datetime, outcome: str) -> dict[str, Any]:
    return {
        "message_sid": sms.message_sid,
        "from_phone": sms.from_phone,
        "to_phone": (sms.to_phone or "")[:32] or None,
        "body": sms.body,
        "params": sms.params,
        "received_at": now,
        "outcome": outcome,
    }
