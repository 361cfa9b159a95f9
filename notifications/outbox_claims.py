"""Claiming outbox rows for a dispatch pass: steps 1 to 3 of `notifications.dispatcher`.

Expired leases go back, due rows (urgent first, the rest outside quiet hours) become
`sending` under a lease, and rows to unreachable numbers are suppressed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, case, literal, select, update
from sqlalchemy.orm import Session

from config.logging import mask_phone
from config.settings import Settings
from grids.core.notices import VOICE
from grids.storage.database import is_postgresql
from notifications import contacts
from notifications.models import OutboxMessage, OutboxStatus
from notifications.providers.base import SmsProvider

log = logging.getLogger(__name__)

outbox = OutboxMessage.__table__

CLAIM_AHEAD_SECONDS = 2.0
"""A rate-limited dispatcher claims about this much sending at a time."""

_CLAIMED = (
    outbox.c.id,
    outbox.c.idempotency_key,
    outbox.c.to_phone,
    outbox.c.template,
    outbox.c.params,
    outbox.c.language,
    outbox.c.body,
    outbox.c.urgent,
    outbox.c.attempts,
    outbox.c.next_attempt_at,
    outbox.c.channel,
)


def in_quiet_hours(settings: Settings, moment: datetime) -> bool:
    return settings.quiet_hours.contains(moment.astimezone(settings.tz).time())


def effective_batch_size(settings: Settings, batch_size: int) -> int:
    """At a rate limit, claim only what the next `CLAIM_AHEAD_SECONDS` will send: rows
    claimed but not yet attempted when a dispatcher is killed wait out the lease, so
    there are few of them (and the batch is always sent well within the lease)."""
    if settings.sms_rate_per_second <= 0:
        return batch_size
    fits = int(
        settings.sms_rate_per_second * min(CLAIM_AHEAD_SECONDS, settings.sms_lease_seconds / 2)
    )
    return max(1, min(batch_size, fits))


def lease_end(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.sms_lease_seconds)


def reclaim_expired(session: Session, settings: Settings, now: datetime) -> int:
    """Rows stuck in `sending` past their lease go back to `pending` (or `failed` if spent)."""
    stuck = (outbox.c.status == OutboxStatus.SENDING) & (outbox.c.lease_expires_at < now)
    spent = session.execute(
        update(outbox)
        .where(stuck, outbox.c.attempts >= settings.sms_max_attempts)
        .values(
            status=OutboxStatus.FAILED,
            lease_expires_at=None,
            error_code="lease_expired",
            error_message="the dispatcher stopped while sending; no attempts left",
            updated_at=now,
        )
    ).rowcount  # type: ignore[attr-defined]  # a cursor result; Session types it as Result
    back = session.execute(
        update(outbox)
        .where(stuck)
        .values(
            status=OutboxStatus.PENDING,
            lease_expires_at=None,
            next_attempt_at=now,
            updated_at=now,
        )
    ).rowcount  # type: ignore[attr-defined]  # a cursor result; Session types it as Result
    if spent or back:
        log.warning(
            "reclaimed %d outbox rows past their lease (%d had no attempts left)", back, spent
        )
    return (spent or 0) + (back or 0)


def _claim(
    session: Session,
    *,
    urgent: bool,
    limit: int,
    now: datetime,
    lease_until: datetime,
    provider: str,
    voice_provider: str,
) -> Sequence[Row[Any]]:
    due = (
        select(outbox.c.id)
        .where(
            outbox.c.status == OutboxStatus.PENDING,
            outbox.c.urgent == urgent,
            outbox.c.next_attempt_at <= now,
        )
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    if is_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    # A CTE, evaluated once: as an `IN (subquery)` PostgreSQL may rescan the
    # LIMIT ... FOR UPDATE subquery per row and claim more than `limit` rows.
    due_cte = due.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
    claimed = session.execute(
        update(outbox)
        .where(outbox.c.id.in_(select(due_cte.c.id)), outbox.c.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENDING,
            attempts=outbox.c.attempts + 1,
            lease_expires_at=lease_until,
            # Each row names who sends it: a call's provider reports (or not) its result.
            provider=case(
                (outbox.c.channel == VOICE, literal(voice_provider)), else_=literal(provider)
            ),
            updated_at=now,
        )
        .returning(*_CLAIMED)
    ).all()
    return sorted(claimed, key=lambda row: (row.next_attempt_at, row.id))


def claim_batch(
    session: Session,
    settings: Settings,
    provider: SmsProvider,
    *,
    now: datetime,
    limit: int,
    voice_provider: str | None = None,
) -> tuple[list[Row[Any]], int]:
    """Claim up to `limit` due rows and suppress those to unreachable numbers; no commit.

    Returns the rows to send and how many were suppressed.
    """
    arguments: dict[str, Any] = {
        "now": now,
        "lease_until": lease_end(settings, now),
        "provider": provider.name,
        "voice_provider": voice_provider or settings.voice_backend,
    }
    rows = list(_claim(session, urgent=True, limit=limit, **arguments))
    if len(rows) < limit and not in_quiet_hours(settings, now):
        rows.extend(_claim(session, urgent=False, limit=limit - len(rows), **arguments))
    if not rows:
        return [], 0
    # An SMS opt-out or an invalid-mobile flag says nothing of calls: only SMS is held back.
    unreachable = contacts.unreachable_numbers(
        session, {row.to_phone for row in rows if row.channel != VOICE}
    )
    if not unreachable:
        return rows, 0
    suppressed = [row for row in rows if row.channel != VOICE and row.to_phone in unreachable]
    session.execute(
        update(outbox)
        .where(outbox.c.id == bindparam("b_id"))
        .values(
            status=OutboxStatus.SUPPRESSED,
            attempts=outbox.c.attempts - 1,
            lease_expires_at=None,
            error_code=bindparam("b_code"),
            error_message=bindparam("b_message"),
            updated_at=now,
        ),
        [
            {
                "b_id": row.id,
                "b_code": unreachable[row.to_phone],
                "b_message": f"not sent: number {unreachable[row.to_phone].replace('_', ' ')}",
            }
            for row in suppressed
        ],
    )
    for row in suppressed:
        log.info(
            "suppressed outbox %d to %s: %s",
            row.id,
            mask_phone(row.to_phone),
            unreachable[row.to_phone],
        )
    held = {row.id for row in suppressed}
    return [row for row in rows if row.id not in held], len(suppressed)
