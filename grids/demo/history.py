"""Twelve weeks of a county at work, written as the SMS its people would have sent.

`history_script` plans the messages (reports, readings, misses, attendance,
urgent cases, acknowledgements, a hospitalisation, a death) from the roster
with a seeded random generator; the SMS channel plays them through its real
inbound handler at their own times. Grids only plan: they never send.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from grids.accounts.access import facility_subtree_ids
from grids.core.vocabulary import FacilityLevel
from grids.core.weeks import week_monday
from grids.models import Doctor, Facility, Grid, Membership, Patient, WeeklyReport
from grids.rollups.period import weeks_back

HISTORY_WEEKS = 12
REGISTERED_WEEKS_BEFORE = 30
"""Memberships are dated this many weeks before the history starts (so denominators count)."""
READINGS_PER_REPORT = (1, 4)
REPORT_RATE = 0.9
LATE_GRID_REPORT_RATE = 0.5
ATTENDANCE_RATE = 0.8
ACK_DELAYS_MINUTES = (3, 6, 9, 14, 27, 48)


@dataclass(frozen=True)
class ScriptedSms:
    at: datetime
    phone: str
    text: str


@dataclass(frozen=True)
class _GridRoster:
    grid_id: int
    code: str
    coordinator_phone: str
    doctor_phone: str
    seats: dict[int, tuple[str, ...]]
    """seat -> conditions of the member."""


def demo_township(session: Session) -> Facility | None:
    """The township centre whose grids are best staffed: where the demo doctor works."""
    rows = session.execute(
        select(
            Facility.parent_id,
            func.count(Grid.id),
            func.count(Grid.doctor_id),
            func.count(Grid.coordinator_id),
        )
        .join(Grid, Grid.facility_id == Facility.id)
        .where(Facility.parent_id.is_not(None))
        .group_by(Facility.parent_id)
    ).all()
    ranked = sorted(rows, key=lambda row: (-(row[2] + row[3]) / (2 * row[1]), -row[1], row[0]))
    for parent_id, *_ in ranked:
        facility = session.get(Facility, parent_id)
        if facility is not None and facility.level in (
            FacilityLevel.TOWNSHIP_CENTER,
            FacilityLevel.COMMUNITY_CENTER,
        ):
            return facility
    return None


def has_history(session: Session, grid_ids: list[int]) -> bool:
    return (
        session.scalar(select(WeeklyReport.id).where(WeeklyReport.grid_id.in_(grid_ids)).limit(1))
        is not None
    )


def _rosters(session: Session, township: Facility) -> list[_GridRoster]:
    facilities = facility_subtree_ids(session, township.id)
    coordinator = Patient.__table__.alias("coordinator")
    grids = session.execute(
        select(Grid.id, Grid.code, coordinator.c.phone, Doctor.phone)
        .join(coordinator, coordinator.c.id == Grid.coordinator_id)
        .join(Doctor, Doctor.id == Grid.doctor_id)
        .where(Grid.facility_id.in_(facilities), coordinator.c.phone.is_not(None))
        .order_by(Grid.code)
    ).all()
    seats: dict[int, dict[int, tuple[str, ...]]] = {}
    for grid_id, seat, conditions in session.execute(
        select(Membership.grid_id, Membership.seat, Patient.conditions)
        .join(Patient, Patient.id == Membership.patient_id)
        .where(Membership.grid_id.in_([g[0] for g in grids]), Membership.left_at.is_(None))
    ):
        seats.setdefault(grid_id, {})[seat] = tuple(conditions or ())
    return [
        _GridRoster(grid_id, code, phone, doctor_phone, seats.get(grid_id, {}))
        for grid_id, code, phone, doctor_phone in grids
        if seats.get(grid_id)
    ]


def backdate_memberships(session: Session, joined_at: datetime) -> None:
    """Date the current memberships back, as if the grids had run for months already."""
    session.execute(
        update(Membership)
        .where(Membership.left_at.is_(None), Membership.joined_at > joined_at)
        .values(joined_at=joined_at)
    )


def _local(day: datetime, tz: ZoneInfo) -> datetime:
    return day.astimezone(tz)


def history_script(
    session: Session, township: Facility, now: datetime, tz: ZoneInfo, seed: int = 48
) -> tuple[list[int], list[ScriptedSms]]:
    """(grid ids, messages up to `now`, oldest first) for the township's staffed grids.

    The first grid ids are the demo doctor's: the doctor with most grids.
    """
    rng = random.Random(seed)
    rosters = _rosters(session, township)
    current = _local(now, tz)
    weeks = weeks_back(f"{current.isocalendar()[0]}-W{current.isocalendar()[1]:02d}", HISTORY_WEEKS)
    messages: list[ScriptedSms] = []

    def moment(week: str, weekday: int, hour: int, minute: int = 0) -> datetime:
        day = week_monday(week) + timedelta(days=weekday)
        return datetime.combine(day, time(hour, minute), tzinfo=tz)

    late_grids = {roster.grid_id for roster in rosters[::9]}
    # The demo doctor (most grids) sees the urgent cases, a hospitalisation and a death.
    by_doctor: dict[str, list[_GridRoster]] = {}
    for roster in rosters:
        by_doctor.setdefault(roster.doctor_phone, []).append(roster)
    special = max(by_doctor.values(), key=len) if by_doctor else []
    special_ids = [roster.grid_id for roster in special]
    for week_index, week in enumerate(weeks):
        for roster in rosters:
            rate_ = LATE_GRID_REPORT_RATE if roster.grid_id in late_grids else REPORT_RATE
            seats = sorted(roster.seats)
            if rng.random() < rate_:
                items: list[str] = []
                chosen = rng.sample(seats, min(len(seats), rng.randint(*READINGS_PER_REPORT)))
                for seat in sorted(chosen):
                    conditions = roster.seats[seat]
                    if "diabetes" in conditions and rng.random() < 0.6:
                        glucose = max(4.0, rng.gauss(6.6, 1.4))
                        items.append(f"{seat} 血糖{glucose:.1f}")
                    else:
                        systolic = int(max(100, rng.gauss(133, 13)))
                        diastolic = int(max(60, min(systolic - 25, rng.gauss(85, 8))))
                        items.append(f"{seat} 血压{systolic}/{diastolic}")
                if rng.random() < 0.08:
                    items.append(f"{rng.choice(seats)} 漏药")
                hospital_grid = special_ids[1:2] == [roster.grid_id]
                death_grid = special_ids[2:3] == [roster.grid_id]
                if hospital_grid and week_index == HISTORY_WEEKS - 4 and len(seats) > 6:
                    items.append(f"{seats[6]} 住院")
                if death_grid and week_index == HISTORY_WEEKS - 6 and len(seats) > 8:
                    items.append(f"{seats[8]} 去世")
                text = "好 " + " ".join(items) if items else "好"
                at = moment(week, rng.choice((4, 5, 6)), rng.randint(9, 19), rng.randint(0, 59))
                messages.append(ScriptedSms(at, roster.coordinator_phone, text))
            if rng.random() < ATTENDANCE_RATE:
                present = max(1, int(len(seats) * rng.uniform(0.55, 0.95)))
                at = moment(week, rng.choice((2, 3)), 15, rng.randint(0, 59))
                messages.append(ScriptedSms(at, roster.coordinator_phone, f"到 {present}"))
        # An urgent case most weeks, somewhere in the first grids, acknowledged at
        # various speeds; the one in the current week stays open for the doctor.
        if special and week_index % 2 == 1:
            roster = special[(week_index // 2) % len(special)]
            seat = sorted(roster.seats)[min(3, len(roster.seats) - 1)]
            at = moment(week, 1, 10, rng.randint(0, 59))
            messages.append(ScriptedSms(at, roster.coordinator_phone, f"急 {seat} 胸痛气短"))
            if week_index < HISTORY_WEEKS - 1:
                delay = ACK_DELAYS_MINUTES[(week_index // 2) % len(ACK_DELAYS_MINUTES)]
                messages.append(
                    ScriptedSms(at + timedelta(minutes=delay), roster.doctor_phone, "收到")
                )
    grid_ids = special_ids + [r.grid_id for r in rosters if r.grid_id not in special_ids]
    in_past = [message for message in messages if message.at <= now]
    in_past.sort(key=lambda message: message.at)
    return grid_ids, in_past


def history_start(now: datetime, tz: ZoneInfo) -> datetime:
    current = _local(now, tz)
    first = weeks_back(
        f"{current.isocalendar()[0]}-W{current.isocalendar()[1]:02d}", HISTORY_WEEKS
    )[0]
    monday = datetime.combine(week_monday(first), time(0), tzinfo=tz)
    return monday - timedelta(weeks=REGISTERED_WEEKS_BEFORE)
