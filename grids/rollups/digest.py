"""The Monday digest: one short SMS per village doctor about last week.

Returns `Notice`s; the SMS channel puts them in the outbox. Idempotent: the
key names the week and the doctor, so a second run queues nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.core.vocabulary import DoctorStatus
from grids.core.weeks import previous_week, week_monday, week_number
from grids.models import Doctor, Grid, UrgentReport
from grids.outreach import Outreach, Timing
from grids.outreach.timing import local_at, weeks_between
from grids.rollups.indicators import DOCTOR_ACK_TIMEOUT_S
from grids.rollups.needs import first_grid, grid_needs
from grids.rollups.service import compute_week, parse_period, snapshot_closed_weeks

TEMPLATE = "sms.digest.doctor"
TEMPLATE_ALL_WELL = "sms.digest.doctor_all_well"
DIGEST_AT = time(8, 0)
"""Monday, county time: the digest of the week just ended is due."""


@dataclass(frozen=True)
class Digest:
    week: str
    notices: list[Notice]


def open_urgent_by_grid(session: Session, now: datetime) -> dict[str, int]:
    """Urgent cases nobody has acknowledged yet, per grid code."""
    rows = session.execute(
        select(Grid.code, func.count())
        .join(UrgentReport, UrgentReport.grid_id == Grid.id)
        .where(UrgentReport.acknowledged_at.is_(None), UrgentReport.received_at <= now)
        .group_by(Grid.code)
    )
    return {code: count for code, count in rows}


def monday_digest(
    session: Session,
    now: datetime,
    tz: ZoneInfo,
    week: str | None = None,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> Digest:
    """One notice per active doctor with grids: reports, red members, open cases, where to start."""
    period = parse_period(week, now, tz)
    rollup = compute_week(session, period, now, doctor_timeout_s=doctor_timeout_s)
    grid_values = {
        code: values for (level, code), values in rollup.values.items() if level == "grid"
    }
    open_urgent = open_urgent_by_grid(session, now)
    grids_of: dict[str, list[str]] = {}
    for place in rollup.places:
        if place.doctor_code:
            grids_of.setdefault(place.doctor_code, []).append(place.grid_code)
    notices: list[Notice] = []
    doctors = session.scalars(
        select(Doctor).where(Doctor.status == DoctorStatus.ACTIVE).order_by(Doctor.code)
    )
    for doctor in doctors:
        codes = grids_of.get(doctor.code)
        if not codes or not doctor.phone:
            continue
        values = rollup.values[("doctor", doctor.code)]
        needs = grid_needs(codes, grid_values, open_urgent)
        first = first_grid(needs)
        params = {
            "week": str(week_number(period.week)),
            "grids": str(len(codes)),
            "reported": str(values["grids_reported"]),
            "red": str(values["red"]),
            "open": str(sum(open_urgent.get(code, 0) for code in codes)),
        }
        template = TEMPLATE_ALL_WELL
        if first is not None:
            template = TEMPLATE
            params["first"] = str(first.number)
        notices.append(
            Notice(
                key=f"digest:{period.week}:doctor:{doctor.id}",
                phone=doctor.phone,
                language=doctor.language,
                template=template,
                params=params,
                recipient_type="doctor",
                recipient_id=doctor.id,
            )
        )
    return Digest(week=period.week, notices=notices)


def digest_notices(
    session: Session, tz: ZoneInfo, week: str, now: datetime, *, doctor_timeout_s: int
) -> list[Notice]:
    """The digests of `week`, one `Notice` per village doctor with grids, after the
    closed weeks are snapshotted (so the digest and the pages agree)."""
    snapshot_closed_weeks(session, now, tz, doctor_timeout_s=doctor_timeout_s)
    return list(monday_digest(session, now, tz, week, doctor_timeout_s=doctor_timeout_s).notices)


def due_digests(
    session: Session, timing: Timing, since: datetime, now: datetime, *, doctor_timeout_s: int
) -> Outreach:
    """The digests due in (since, now]: Monday 08:00 for the week just ended, useful
    until the quiet hours begin that day, missed after."""
    outreach = Outreach()
    tz = timing.tz
    for week in weeks_between(since, now, tz):
        monday = week_monday(week)
        due = local_at(monday, DIGEST_AT, tz)
        if not since < due <= now:
            continue
        if now >= local_at(monday, timing.quiet_hours.start, tz):
            outreach.missed += 1
            continue
        outreach.notices += digest_notices(
            session, tz, previous_week(week), now, doctor_timeout_s=doctor_timeout_s
        )
    return outreach
