"""Queued reminders that became pointless are suppressed before they go out.

Run by `outbox-dispatch` before each pass. It looks at what changed since its
last look (kept in `scheduler_job_state.watermark`, so an outage loses nothing);
what makes a reminder pointless is `grids.outreach.pointless`'s to say. Only
`pending` rows change (`status = suppressed`, `error_code = cleared`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from grids.exchanges.reminders import ATTENDANCE_TEMPLATE, REMINDER_TEMPLATES
from grids.models import Grid
from grids.outreach.pointless import (
    Moved,
    answered_prompts,
    attendance_prompt_prefixes,
    attended_grids,
    moved_exchanges,
)
from grids.storage.id_lists import among
from grids.storage.rows import rows_matched
from notifications.models import OutboxMessage, OutboxStatus
from scheduling.models import SchedulerJobState

STATE_KEY = "outbox-clearing"
MARGIN = timedelta(minutes=5)
"""Changes committed while a job was queueing are looked at again."""
FIRST_LOOK = timedelta(days=7)

outbox = OutboxMessage.__table__


def _suppress(session: Session, keys: list[str], why: str, now: datetime) -> int:
    cleared = 0
    for start in range(0, len(keys), 500):
        cleared += rows_matched(
            session.execute(
                update(outbox)
                .where(
                    outbox.c.idempotency_key.in_(keys[start : start + 500]),
                    outbox.c.status == OutboxStatus.PENDING,
                )
                .values(
                    status=OutboxStatus.SUPPRESSED,
                    error_code="cleared",
                    error_message=f"not sent: no longer needed ({why})",
                    updated_at=now,
                )
            )
        )
    return cleared


def clear_pointless(session: Session, settings: Settings, now: datetime) -> int:
    """Suppress pending reminders made pointless since the last look; no commit."""
    state = session.get(SchedulerJobState, STATE_KEY, with_for_update=True)
    if state is None:
        state = SchedulerJobState(job_id=STATE_KEY, watermark=now - FIRST_LOOK)
        session.add(state)
        session.flush()
    since = (state.watermark or now - FIRST_LOOK) - MARGIN
    cleared = _suppress(session, answered_prompts(session, since), "report received", now)

    attended = attended_grids(session, since)
    if attended:
        pending = session.scalars(
            select(outbox.c.idempotency_key).where(
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.template == ATTENDANCE_TEMPLATE,
                outbox.c.recipient_id.in_(
                    select(Grid.coordinator_id).where(among(session, Grid.id, list(attended)))
                ),
            )
        ).all()
        prefixes = attendance_prompt_prefixes(attended)
        keys = [k for k in pending if k.startswith(prefixes)]
        cleared += _suppress(session, keys, "attendance received", now)

    moved = moved_exchanges(session, since, settings.tz)
    if moved is not None:
        cleared += _clear_moved(session, moved, now)

    state.watermark = now
    return cleared


def _clear_moved(session: Session, moved: Moved, now: datetime) -> int:
    phones = moved.phones
    keys = []
    for start in range(0, len(phones), 500):
        for key in session.scalars(
            select(outbox.c.idempotency_key).where(
                outbox.c.to_phone.in_(phones[start : start + 500]),
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.template.in_(REMINDER_TEMPLATES),
            )
        ):
            if moved.stale(key):
                keys.append(key)
    return _suppress(session, keys, "exchange moved or skipped", now)
