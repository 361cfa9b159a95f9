"""The SMS exchanged with some phones over a period, for the grid page (`grids.channel`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.channel import LoggedMessage
from notifications.models import InboundMessage, OutboxMessage

LIMIT = 500
"""At most this many messages each way (a grid exchanges a few dozen a week)."""


def exchanged_with(
    session: Session, phones: Sequence[str], start: datetime, end: datetime
) -> list[LoggedMessage]:
    """Messages received from and queued to `phones` in [start, end), oldest first."""
    wanted = sorted(set(phones))
    if not wanted:
        return []
    received = session.execute(
        select(InboundMessage.received_at, InboundMessage.from_phone, InboundMessage.body)
        .where(
            InboundMessage.from_phone.in_(wanted),
            InboundMessage.received_at >= start,
            InboundMessage.received_at < end,
        )
        .order_by(InboundMessage.received_at)
        .limit(LIMIT)
    )
    sent = session.execute(
        select(
            OutboxMessage.created_at,
            OutboxMessage.to_phone,
            OutboxMessage.body,
            OutboxMessage.status,
        )
        .where(
            OutboxMessage.to_phone.in_(wanted),
            OutboxMessage.created_at >= start,
            OutboxMessage.created_at < end,
        )
        .order_by(OutboxMessage.created_at)
        .limit(LIMIT)
    )
    messages = [LoggedMessage(at, True, phone, body) for at, phone, body in received]
    messages += [
        LoggedMessage(at, False, phone, body, str(status)) for at, phone, body, status in sent
    ]
    return sorted(messages, key=lambda message: (message.at, not message.inbound))
