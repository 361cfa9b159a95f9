"""Queued reminders that became pointless are suppressed before they go out.

Run by `outbox-dispatch` before each pass. It looks at what changed since its
last look (kept in `scheduler_job_state.watermark`, so an outage loses nothing):
- a weekly report arrived: that week's report prompts of the grid;
- attendance arrived: the grid's attendance prompts;
- this week's exchange skipped or moved: the grid's reminders for another time.
Only `pending` rows change (`status = suppressed`, `error_code = cleared`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from grids.models import (
    ExchangeAttendance,
    ExchangeOverride,
    Grid,
    Membership,
    Patient,
    WeeklyReport,
)
from grids.storage.rows import rows_matched
from notifications.models import OutboxMessage, OutboxStatus
from scheduling.jobs.exchanges import occurrences, stamp
from scheduling.models import SchedulerJobState

STATE_KEY = "outbox-clearing"
MARGIN = timedelta(minutes=5)
"""Changes committed while a job was queueing are looked at again."""
FIRST_LOOK = timedelta(days=7)
REMINDER_TEMPLATES = ("sms.exchange.reminder", "sms.exchange.coordinator")

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
    cleared = 0

    reports = session.execute(
        select(WeeklyReport.grid_id, WeeklyReport.week).where(WeeklyReport.last_received_at > since)
    ).all()
    keys = [f"report-prompt:{g}:{w}:{which}" for g, w in reports for which in ("first", "second")]
    cleared += _suppress(session, keys, "report received", now)

    attended = [
        grid_id
        for (grid_id,) in session.execute(
            select(ExchangeAttendance.grid_id).where(ExchangeAttendance.reported_at > since)
        )
    ]
    if attended:
        pending = session.scalars(
            select(outbox.c.idempotency_key).where(
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.template == "sms.exchange.attendance_prompt",
                outbox.c.recipient_id.in_(select(Grid.coordinator_id).where(Grid.id.in_(attended))),
            )
        ).all()
        wanted = {f"attendance-prompt:{g}:" for g in attended}
        keys = [k for k in pending if any(k.startswith(prefix) for prefix in wanted)]
        cleared += _suppress(session, keys, "attendance received", now)

    changed = session.execute(
        select(ExchangeOverride.grid_id, ExchangeOverride.week).where(
            ExchangeOverride.created_at > since
        )
    ).all()
    if changed:
        cleared += _clear_moved(session, settings, changed, now)

    state.watermark = now
    return cleared


def _clear_moved(
    session: Session,
    settings: Settings,
    changed: Sequence[Any],
    now: datetime,
) -> int:
    weeks = sorted({week for _, week in changed})
    grid_ids = {grid_id for grid_id, _ in changed}
    current = {
        (occ.grid_id, stamp(occ.starts_at))
        for occ in occurrences(session, weeks, settings)
        if occ.grid_id in grid_ids
    }
    phones = [
        phone
        for (phone,) in session.execute(
            select(Patient.phone)
            .join(Membership, Membership.patient_id == Patient.id)
            .where(
                Membership.grid_id.in_(grid_ids),
                Membership.left_at.is_(None),
                Patient.phone.is_not(None),
            )
        )
    ]
    keys = []
    for start in range(0, len(phones), 500):
        for key in session.scalars(
            select(outbox.c.idempotency_key).where(
                outbox.c.to_phone.in_(phones[start : start + 500]),
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.template.in_(REMINDER_TEMPLATES),
            )
        ):
            _, grid, when = key.split(":")[:3]
            if int(grid) in grid_ids and (int(grid), when) not in current:
                keys.append(key)
    return _suppress(session, keys, "exchange moved or skipped", now)
