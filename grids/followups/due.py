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
                Grid.id.label("grid_id"),
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


@dataclass(frozen=True)
class MemberDue:
    patient_id: int
    code: str
    name: str
    phone: str | None
    grid_id: int
    grid_code: str
    seat: int
    due: date
    reason: str


def member_dues(
    session: Session, grid_ids: Sequence[int], today: date, tz: ZoneInfo
) -> list[MemberDue]:
    """Each followed member's next due date (members gone or away are left out)."""
    members = _members(session, grid_ids)
    latest = latest_followups(session, [row.id for row in members])
    result = []
    for row in members:
        if row.status in GONE_STATUSES or (row.paused_until and row.paused_until > today):
            continue
        last = latest.get(row.id)
        if last is None:
            due, reason = rules.first_due(row.joined_at.astimezone(tz).date()), rules.Reason.FIRST
        else:
            due, reason = last.next_due, rules.Reason(last.next_due_reason)
        result.append(
            MemberDue(
                row.id,
                row.code,
                row.name,
                row.phone,
                row.grid_id,
                row.grid_code,
                row.seat,
                due,
                str(reason),
            )
        )
    return result


def seats_due_at_visit(session: Session, grid_id: int, visit_day: date, tz: ZoneInfo) -> list[int]:
    """Seats of the grid's members due before the doctor's next rota visit."""
    return sorted(
        m.seat
        for m in member_dues(session, [grid_id], visit_day, tz)
        if rules.before_next_visit(m.due, visit_day)
    )


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
    items = []
    for member in member_dues(session, grid_ids, today, tz):
        keep = (
            rules.for_township(member.due, today)
            if township
            else rules.in_due_list(member.due, today)
        )
        if not keep:
            continue
        items.append(
            DueItem(
                member_code=member.code,
                name=member.name,
                phone=member.phone,
                grid_code=member.grid_code,
                seat=member.seat,
                due=member.due,
                days_overdue=rules.days_overdue(member.due, today),
                colour=colours.get(member.code, "green"),
                reason=member.reason,
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
