"""Who is due a follow-up: a doctor's list (the coming week and everyone overdue) and a
township's (30 days or more past due), ranked red first, then most days overdue."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from grids.accounts.access import facility_subtree_ids
from grids.core.vocabulary import GONE_STATUSES
from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Doctor, Facility, Grid, Membership, Patient
from grids.rollups.boards import member_colours
from grids.rollups.period import WeekPeriod, last_closed_week
from grids.storage.id_lists import among, id_batches, written_in


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


def latest_followups(session: Session, patient_ids: Sequence[int]) -> dict[int, tuple[date, str]]:
    """Each member's latest follow-up (by day, then by when it was written): its next due
    date and why."""
    latest: dict[int, tuple[date, str]] = {}
    if not patient_ids:
        return latest
    rows = session.execute(
        select(Followup.patient_id, Followup.next_due, Followup.next_due_reason)
        .where(Followup.patient_id.in_(patient_ids))
        .order_by(Followup.patient_id, Followup.visit_date, Followup.id)
    )
    for patient_id, next_due, reason in rows:
        latest[patient_id] = (next_due, reason)
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
        result.append(_member_due(row, latest.get(row.id), tz))
    return result


def _due_date(row: Any, latest: tuple[date, str] | None, tz: ZoneInfo) -> date:
    """A member's due date: the latest follow-up's next date, or (never followed up) the
    first one after joining."""
    if latest is None:
        return rules.first_due(row.joined_at.astimezone(tz).date())
    return latest[0]


def _member_due(row: Any, latest: tuple[date, str] | None, tz: ZoneInfo) -> MemberDue:
    why = rules.Reason.FIRST if latest is None else rules.Reason(latest[1])
    return MemberDue(
        row.id,
        row.code,
        row.name,
        row.phone,
        row.grid_id,
        row.grid_code,
        row.seat,
        _due_date(row, latest, tz),
        str(why),
    )


def _in_grids(column: Any, grid_ids: Sequence[int]) -> Any:
    """A township's thousands of grids, repeated twice, written into the SQL."""
    return written_in(column, grid_ids, "township_grid_ids")


def _latest_of_members(in_grids: Any) -> Any:
    """Each current member's (of the grids `in_grids` selects) latest follow-up: its
    next due date and why, through the follow-ups' (patient, day) index."""
    members = (
        select(Membership.patient_id)
        .where(in_grids, Membership.left_at.is_(None))
        .scalar_subquery()
    )
    ranked = (
        select(
            Followup.patient_id,
            Followup.next_due,
            Followup.next_due_reason,
            func.row_number()
            .over(
                partition_by=Followup.patient_id,
                order_by=(Followup.visit_date.desc(), Followup.id.desc()),
            )
            .label("rank"),
        )
        .where(Followup.patient_id.in_(members))
        .subquery("ranked")
    )
    return select(ranked).where(ranked.c.rank == 1).subquery("latest")


def township_dues(
    session: Session, grid_ids: Sequence[int], today: date, tz: ZoneInfo
) -> list[MemberDue]:
    """The followed members of `grid_ids` 30 days or more past due (`rules.for_township`),
    found in SQL: each member's latest follow-up through its (patient, day) index, and
    the members never followed up by when they joined. Only these members are loaded,
    not the township's every member and follow-up."""
    return [_member_due(row, due, tz) for row, due in _township_rows(session, grid_ids, today, tz)]


def _township_rows(
    session: Session, grid_ids: Sequence[int], today: date, tz: ZoneInfo
) -> list[tuple[Any, tuple[date, str] | None]]:
    """`township_dues` as rows, each with its latest follow-up's (next date, reason)."""
    if not grid_ids:
        return []
    cutoff = today - timedelta(days=rules.TOWNSHIP_AFTER_DAYS)
    # The last day one can have joined and be due (3 months on, clipped) by `cutoff`.
    joined_by = rules.add_months(cutoff, -rules.ROUTINE_MONTHS)
    while rules.first_due(joined_by + timedelta(days=1)) <= cutoff:
        joined_by += timedelta(days=1)
    joined_before = datetime.combine(joined_by + timedelta(days=1), time(), tz)
    latest = _latest_of_members(_in_grids(Membership.grid_id, grid_ids))
    rows = session.execute(
        select(
            Patient.id,
            Patient.code,
            Patient.name,
            Patient.phone,
            Grid.code.label("grid_code"),
            Grid.id.label("grid_id"),
            Membership.seat,
            Membership.joined_at,
            latest.c.next_due,
            latest.c.next_due_reason,
        )
        .join(Membership, Membership.patient_id == Patient.id)
        .join(Grid, Grid.id == Membership.grid_id)
        .outerjoin(latest, latest.c.patient_id == Patient.id)
        .where(
            _in_grids(Membership.grid_id, grid_ids),
            Membership.left_at.is_(None),
            Patient.status.not_in(GONE_STATUSES),
            or_(Patient.paused_until.is_(None), Patient.paused_until <= today),
            or_(
                latest.c.next_due <= cutoff,
                and_(latest.c.patient_id.is_(None), Membership.joined_at < joined_before),
            ),
        )
        .order_by(Grid.code, Membership.seat)
    )
    kept = []
    for row in rows:
        last = None if row.next_due is None else (row.next_due, row.next_due_reason)
        if rules.for_township(_due_date(row, last, tz), today):
            kept.append((row, last))
    return kept


def seats_due_at_visit(session: Session, grid_id: int, visit_day: date, tz: ZoneInfo) -> list[int]:
    """Seats of the grid's members due before the doctor's next rota visit."""
    return seats_due_at_visits(session, {grid_id: visit_day}, tz).get(grid_id, [])


def seats_due_at_visits(
    session: Session, visits: Mapping[int, date], tz: ZoneInfo
) -> dict[int, list[int]]:
    """{grid id: seats due before the doctor's next rota visit} for each grid visited
    (grid id -> visit day), grids with none left out: a day's visits in a province are
    tens of thousands of grids, read in one statement per batch, not one per grid."""
    found: dict[int, list[int]] = {}
    for part in id_batches(session, visits):
        latest = _latest_of_members(among(session, Membership.grid_id, part))
        rows = session.execute(
            select(
                Membership.grid_id,
                Membership.seat,
                Membership.joined_at,
                Patient.paused_until,
                latest.c.next_due,
            )
            .join(Patient, Patient.id == Membership.patient_id)
            .outerjoin(latest, latest.c.patient_id == Patient.id)
            .where(
                among(session, Membership.grid_id, part),
                Membership.left_at.is_(None),
                Patient.status.not_in(GONE_STATUSES),
            )
        )
        for grid_id, seat, joined_at, paused_until, next_due in rows:
            visit_day = visits[grid_id]
            if paused_until and paused_until > visit_day:
                continue
            due = next_due or rules.first_due(joined_at.astimezone(tz).date())
            if rules.before_next_visit(due, visit_day):
                found.setdefault(grid_id, []).append(seat)
    return {grid_id: sorted(seats) for grid_id, seats in found.items()}


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
    if township:
        dues = township_dues(session, grid_ids, today, tz)
    else:
        dues = [
            m for m in member_dues(session, grid_ids, today, tz) if rules.in_due_list(m.due, today)
        ]
    return _ranked(session, dues, at, tz)


def township_overdue(
    session: Session, grid_ids: Sequence[int], at: datetime, tz: ZoneInfo, shown: int
) -> tuple[int, list[DueItem]]:
    """How many members of `grid_ids` are 30 days or more past due, and the `shown` most
    overdue of them, ranked (red first): a township's page lists a few of thousands,
    coloured without reading every overdue member's grid."""
    rows = _township_rows(session, grid_ids, at.astimezone(tz).date(), tz)
    most_overdue = heapq.nsmallest(
        shown, rows, key=lambda kept: (_due_date(kept[0], kept[1], tz), kept[0].code)
    )
    dues = [_member_due(row, latest, tz) for row, latest in most_overdue]
    return len(rows), _ranked(session, dues, at, tz)


def _ranked(
    session: Session, dues: Sequence[MemberDue], at: datetime, tz: ZoneInfo
) -> list[DueItem]:
    today = at.astimezone(tz).date()
    # Colours only for the members listed.
    colours = member_colours(
        session,
        WeekPeriod(last_closed_week(at, tz), tz),
        sorted({member.grid_id for member in dues}),
        [member.patient_id for member in dues],
    )
    items = []
    for member in dues:
        items.append(
            DueItem(
                member_code=member.code,
                name=member.name,
                phone=member.phone,
                grid_code=member.grid_code,
                seat=member.seat,
                due=member.due,
                days_overdue=rules.days_overdue(member.due, today),
                colour=colours.get(member.patient_id, "green"),
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
