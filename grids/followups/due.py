"""Who is due a follow-up: a doctor's list (the coming week and everyone overdue) and a
township's (30 days or more past due), ranked red first, then most days overdue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.accounts.access import facility_subtree_ids
from grids.core.vocabulary import GONE_STATUSES
from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Doctor, Facility, Grid, Membership, Patient
from grids.rollups.boards import member_rows
from grids.rollups.period import WeekPeriod, last_closed_week


@dataclass(frozen=True)
class DueItem:
    member_code: str
    name: str
    phone: str | None
    grid_code: str
    seat: int
    due: date
    days_overdue: int
    colour: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "member_code": self.member_code,
            "grid_code": self.grid_code,
            "due": self.due.isoformat(),
            "days_overdue": self.days_overdue,
            "colour": self.colour,
            "reason": self.reason,
        }


def _members(session: Session, grid_ids: Sequence[int]) -> list[Any]:
    if not grid_ids:
        return []
    return list(
        session.execute(
            select(
                Patient.id,
                Patient.code,
                Patient.name,
                Patient.phone,
                Patient.status,
                Patient.paused_until,
                Grid.code.label("grid_code"),
                Membership.seat,
                Membership.joined_at,
            )
            .join(Membership, Membership.patient_id == Patient.id)
            .join(Grid, Grid.id == Membership.grid_id)
            .where(Membership.grid_id.in_(grid_ids), Membership.left_at.is_(None))
            .order_by(Grid.code, Membership.seat)
        ).all()
    )


def latest_followups(session: Session, patient_ids: Sequence[int]) -> dict[int, Followup]:
    """Each member's latest follow-up (by day, then by when it was written)."""
    latest: dict[int, Followup] = {}
    if not patient_ids:
        return latest
    rows = session.scalars(
        select(Followup)
        .where(Followup.patient_id.in_(patient_ids))
        .order_by(Followup.patient_id, Followup.visit_date, Followup.id)
    )
    for followup in rows:
        latest[followup.patient_id] = followup
    return latest


def due_items(
    session: Session,
    grid_ids: Sequence[int],
    at: datetime,
    tz: ZoneInfo,
    *,
    township: bool = False,
) -> list[DueItem]:
    """The members of `grid_ids` due by the end of the coming week (township: 30 days or
    more past due), ranked; members gone or away (paused) are left out."""
    today = at.astimezone(tz).date()
    colours = {
        row.code: row.colour
        for row in member_rows(session, WeekPeriod(last_closed_week(at, tz), tz), grid_ids)
    }
    members = _members(session, grid_ids)
    latest = latest_followups(session, [row.id for row in members])
    items = []
    for row in members:
        if row.status in GONE_STATUSES or (row.paused_until and row.paused_until > today):
            continue
        last = latest.get(row.id)
        if last is None:
            due, reason = rules.first_due(row.joined_at.astimezone(tz).date()), rules.Reason.FIRST
        else:
            due, reason = last.next_due, rules.Reason(last.next_due_reason)
        keep = rules.for_township(due, today) if township else rules.in_due_list(due, today)
        if not keep:
            continue
        items.append(
            DueItem(
                member_code=row.code,
                name=row.name,
                phone=row.phone,
                grid_code=row.grid_code,
                seat=row.seat,
                due=due,
                days_overdue=rules.days_overdue(due, today),
                colour=colours.get(row.code, "green"),
                reason=str(reason),
            )
        )
    items.sort(key=lambda item: rules.rank_key(item.colour, item.days_overdue, item.member_code))
    return items


def doctor_grid_ids(session: Session, doctor: Doctor) -> list[int]:
    return list(
        session.scalars(
            select(Grid.id).where(Grid.doctor_id == doctor.id, Grid.closed_at.is_(None))
        )
    )


def township_grid_ids(session: Session, township: Facility) -> list[int]:
    facilities = facility_subtree_ids(session, township.id)
    return list(
        session.scalars(
            select(Grid.id).where(Grid.facility_id.in_(facilities), Grid.closed_at.is_(None))
        )
    )
