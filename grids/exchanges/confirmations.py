"""A member's `1` / `去`: they will come to the grid's next exchange."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.weeks import iso_week
from grids.exchanges.models import ExchangeConfirmation
from grids.exchanges.slots import occurrence
from grids.models import ExchangeOverride, Grid, Patient
from grids.storage.rows import get_or_create

STILL_OPEN = timedelta(hours=2)
"""A reply this long after the start still counts for the exchange under way."""


@dataclass(frozen=True)
class Confirmed:
    week: str
    starts_at: datetime
    """Aware, UTC."""
    again: bool
    """The member had confirmed already."""


def next_exchange(
    session: Session, grid: Grid, now: datetime, tz: ZoneInfo
) -> tuple[str, datetime] | None:
    """The week and start of the grid's next exchange (this week's or next week's)."""
    for week in (iso_week(now, tz), iso_week(now + timedelta(days=7), tz)):
        override = session.scalar(
            select(ExchangeOverride).where(
                ExchangeOverride.grid_id == grid.id, ExchangeOverride.week == week
            )
        )
        starts = occurrence(grid, override, week, tz)
        if starts is not None and starts + STILL_OPEN > now:
            return week, starts
    return None


def confirm(
    session: Session, grid: Grid, member: Patient, *, now: datetime, tz: ZoneInfo
) -> Confirmed | None:
    """Record that `member` will come to the next exchange; None when there is none."""
    found = next_exchange(session, grid, now, tz)
    if found is None:
        return None
    week, starts = found

    def find() -> ExchangeConfirmation | None:
        return session.scalar(
            select(ExchangeConfirmation).where(
                ExchangeConfirmation.grid_id == grid.id,
                ExchangeConfirmation.week == week,
                ExchangeConfirmation.patient_id == member.id,
            )
        )

    _, created = get_or_create(
        session,
        find,
        lambda: ExchangeConfirmation(
            grid_id=grid.id, week=week, patient_id=member.id, confirmed_at=now
        ),
    )
    return Confirmed(week=week, starts_at=starts, again=not created)
