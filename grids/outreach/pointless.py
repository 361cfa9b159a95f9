"""What changed since a moment that makes queued outreach pointless:
- a weekly report arrived: that week's report prompts of the grid;
- attendance arrived: the grid's attendance prompts;
- this week's exchange skipped or moved: the grid's reminders for another time.

The channel matches these against its queued messages (`scheduling.jobs.clearing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.exchanges.reminders import attendance_prompt_prefix, occurrences, reminded_exchange
from grids.models import ExchangeAttendance, ExchangeOverride, Membership, Patient, WeeklyReport
from grids.outreach.timing import stamp
from grids.reports.prompts import PROMPTS, prompt_key
from grids.storage.id_lists import among


@dataclass
class Moved:
    """Grids whose exchange moved or was skipped, their exchanges as they stand now,
    and their members' phones (where their reminders went)."""

    grid_ids: set[int] = field(default_factory=set)
    current: set[tuple[int, str]] = field(default_factory=set)
    phones: list[str] = field(default_factory=list)

    def stale(self, reminder_key: str) -> bool:
        """Whether a reminder with this key is for an exchange of a moved grid that
        no longer takes place at that time."""
        grid_id, when = reminded_exchange(reminder_key)
        return grid_id in self.grid_ids and (grid_id, when) not in self.current


def answered_prompts(session: Session, since: datetime) -> list[str]:
    """The keys of report prompts whose report arrived after `since`."""
    reports = session.execute(
        select(WeeklyReport.grid_id, WeeklyReport.week).where(WeeklyReport.last_received_at > since)
    ).all()
    return [prompt_key(grid_id, week, which) for grid_id, week in reports for which in PROMPTS]


def attended_grids(session: Session, since: datetime) -> list[int]:
    """Grids whose attendance arrived after `since`."""
    return [
        grid_id
        for (grid_id,) in session.execute(
            select(ExchangeAttendance.grid_id).where(ExchangeAttendance.reported_at > since)
        )
    ]


def attendance_prompt_prefixes(grid_ids: list[int]) -> tuple[str, ...]:
    """What the keys of these grids' attendance prompts start with."""
    return tuple({attendance_prompt_prefix(grid_id) for grid_id in grid_ids})


def moved_exchanges(session: Session, since: datetime, tz: ZoneInfo) -> Moved | None:
    """The grids whose exchange was moved or skipped after `since`, or None."""
    changed = session.execute(
        select(ExchangeOverride.grid_id, ExchangeOverride.week).where(
            ExchangeOverride.created_at > since
        )
    ).all()
    if not changed:
        return None
    weeks = sorted({week for _, week in changed})
    grid_ids = {grid_id for grid_id, _ in changed}
    current = {
        (occ.grid_id, stamp(occ.starts_at))
        for occ in occurrences(session, weeks, tz)
        if occ.grid_id in grid_ids
    }
    phones = [
        phone
        for (phone,) in session.execute(
            select(Patient.phone)
            .join(Membership, Membership.patient_id == Patient.id)
            .where(
                among(session, Membership.grid_id, list(grid_ids)),
                Membership.left_at.is_(None),
                Patient.phone.is_not(None),
            )
        )
    ]
    return Moved(grid_ids, current, phones)
