"""Delivery status reported back by the provider (Twilio's status callback).

Twilio posts `MessageSid`, `MessageStatus` and, on failure, `ErrorCode` to
`POST /sms/twilio/status` each time a message moves on. Callbacks may arrive
late, early or out of order, so a row's status only moves forward:
`sent` < `undelivered` / `failed` < `delivered`. Twilio's own early states
(`accepted`, `queued`, `sending`, ...) say nothing our `sent` does not. A
status for a SID we have not recorded yet (the callback overtook the
dispatcher's UPDATE) is kept as an `EarlyDeliveryStatus` and applied when the
dispatcher records the SID (`apply_early_statuses`); answered 204 either way.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from config.logging import mask_phone
from notifications import contacts
from notifications.models import (
    ERROR_CODE_LENGTH,
    EarlyDeliveryStatus,
    OutboxMessage,
    OutboxStatus,
)

log = logging.getLogger(__name__)

PROVIDER_STATUSES: dict[str, str | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": OutboxStatus.SENT,
    "delivered": OutboxStatus.DELIVERED,
    "read": OutboxStatus.DELIVERED,
    "undelivered": OutboxStatus.UNDELIVERED,
    "failed": OutboxStatus.FAILED,
    "partially_delivered": OutboxStatus.UNDELIVERED,
    "canceled": OutboxStatus.FAILED,
}
"""Twilio's message statuses and the outbox status each one means (None: nothing new)."""

_RANK: dict[str, int] = {
    OutboxStatus.PENDING: 0,
    OutboxStatus.SENDING: 0,
    OutboxStatus.SENT: 1,
    OutboxStatus.UNDELIVERED: 2,
    OutboxStatus.FAILED: 2,
    OutboxStatus.DELIVERED: 3,
}


def record_status(
    session: Session,
    provider_sid: str,
    status: str,
    error_code: str | None,
    now: datetime,
) -> OutboxMessage | None:
    """Apply a provider status to the row sent as `provider_sid`; no commit.

    Returns the row, or None when no row has that SID. A status that would
    move the row backwards (a late `sent` after `delivered`) changes nothing.
    Error 21610 opts the number out; 21211 and 21614 flag it invalid.
    """
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.provider_sid == provider_sid).with_for_update()
    ).one_or_none()
    if row is None:
        return None
    code = (error_code or "").strip() or None
    if code:
        contacts.record_provider_error(session, row.to_phone, code, now)

    new_status = PROVIDER_STATUSES.get(status.strip().lower())
    if new_status is None or row.status == OutboxStatus.SUPPRESSED:
        return row
    if _RANK[new_status] <= _RANK.get(row.status, 0) and new_status != row.status:
        log.info("outbox %d: ignored late status %s (already %s)", row.id, new_status, row.status)
        return row
    if new_status != row.status or (code and row.error_code != code):
        row.status = new_status
        if code and new_status in (OutboxStatus.FAILED, OutboxStatus.UNDELIVERED):
            row.error_code = code[:ERROR_CODE_LENGTH]
            row.error_message = f"provider reported {status} ({code})"
        row.updated_at = now
        log.info(
            "outbox %d to %s: %s%s",
            row.id,
            mask_phone(row.to_phone),
            new_status,
            f" ({code})" if code else "",
        )
    return row


def keep_early_status(
    session: Session, provider_sid: str, status: str, error_code: str | None, now: datetime
) -> None:
    """Keep a status whose SID no row holds yet; no commit."""
    session.add(
        EarlyDeliveryStatus(
            provider_sid=provider_sid[:64],
            status=status.strip().lower()[:32],
            error_code=((error_code or "").strip()[:ERROR_CODE_LENGTH] or None),
            received_at=now,
        )
    )


_TAKE_EARLY = delete(EarlyDeliveryStatus).returning(
    EarlyDeliveryStatus.provider_sid,
    EarlyDeliveryStatus.status,
    EarlyDeliveryStatus.error_code,
    EarlyDeliveryStatus.received_at,
    EarlyDeliveryStatus.id,
)


def apply_early_statuses(session: Session, provider_sids: list[str], now: datetime) -> int:
    """Apply (and forget) the statuses that arrived before these SIDs were recorded, in
    the order they arrived; one statement when there are none. No commit."""
    if not provider_sids:
        return 0
    taken = session.execute(
        _TAKE_EARLY.where(EarlyDeliveryStatus.provider_sid.in_(provider_sids))
    ).all()
    for sid, status, code, _received, _id in sorted(taken, key=lambda row: (row[3], row[4])):
        record_status(session, sid, status, code, now)
    return len(taken)
