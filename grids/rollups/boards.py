"""What the pages show, loaded in a few queries: week figures, member lists, trends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.clock import now as clock_now
from config.logging import mask_phone, mask_phones_in
from grids.channel import messages_with
from grids.models import Doctor, Facility, Grid, Patient, UrgentReport, WeeklyReport
from grids.outreach.leaders import GridLeaders, standing_in
from grids.rollups.indicators import DOCTOR_ACK_TIMEOUT_S, rate
from grids.rollups.models import RollupSnapshot
from grids.rollups.period import WeekPeriod, weeks_back
from grids.rollups.places import area_doctors, grid_places
from grids.rollups.queries import member_status
from grids.rollups.refresh import refresh_week, refreshed_at
from grids.rollups.scope import scope_patients
from grids.rollups.service import compute_week, new_snapshot, subject_keys

TREND_WEEKS = 12


@dataclass
class WeekFigures:
    """Indicators of some subjects for one week, from snapshots when the week is closed."""

    period: WeekPeriod
    values: dict[tuple[str, str], dict[str, Any]]
    as_of: datetime
    provisional: bool
    revised: set[tuple[str, str]] = field(default_factory=set)

    def of(self, level: str, code: str) -> dict[str, Any]:
        return self.values.get((level, code), {})


def week_figures(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    keys: Sequence[tuple[str, str]],
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> WeekFigures:
    wanted = set(keys)
    if period.closed_at(now) and wanted:
        rows = session.scalars(
            select(RollupSnapshot).where(
                RollupSnapshot.week == period.week,
                # The level too, so the (week, level, code) key finds the rows.
                RollupSnapshot.level.in_({level for level, _ in wanted}),
                RollupSnapshot.code.in_({code for _, code in wanted}),
                RollupSnapshot.provisional.is_(False),
            )
        )
        found = {(row.level, row.code): row for row in rows if (row.level, row.code) in wanted}
        if set(found) == wanted:
            return WeekFigures(
                period=period,
                values={key: row.indicators for key, row in found.items()},
                as_of=max(row.computed_at for row in found.values()),
                provisional=False,
                revised={key for key, row in found.items() if row.revisions > 1},
            )
    places = grid_places(session, wanted)
    needed = [place for place in places if wanted & set(subject_keys(place))]
    rollup = compute_week(
        session,
        period,
        now,
        places=needed,
        doctor_timeout_s=doctor_timeout_s,
    )
    return WeekFigures(
        period=period,
        values=dict(rollup.values),
        as_of=rollup.as_of,
        provisional=rollup.provisional,
    )


def stored_figures(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    keys: Sequence[tuple[str, str]],
    *,
    primary: Session,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> WeekFigures:
    """Township and county figures from stored rows: a closed week's snapshot, or the
    current week's provisional snapshot as `rollups-refresh` last left it.

    The rows are read through `session`, which may be a replica and never writes.
    What it lacks is looked for on `primary` (the replica may lag behind), and what is
    not stored there either is computed once and stored through `primary` (the caller
    commits it): the missing subjects of a closed week, or the current week's first
    provisional snapshot (a fresh county has none before the job's first run). This
    response then shows the rows as `primary` has them."""
    wanted = set(keys)
    closed = period.closed_at(now)
    if closed:
        found = _stored(session, period.week, wanted, provisional=False)
        missing = wanted - set(found)
        if missing:
            found.update(_stored(primary, period.week, missing, provisional=False))
            missing = wanted - set(found)
        if missing:
            _store_once(
                primary,
                lambda: _snapshot_subjects(primary, period, now, missing, doctor_timeout_s),
            )
            found.update(_stored(primary, period.week, missing, provisional=False))
        as_of = max((row.computed_at for row in found.values()), default=now)
    else:
        reader = session
        refreshed = refreshed_at(session, period.week)
        if refreshed is None:
            reader = primary
            refreshed = refreshed_at(primary, period.week)
        if refreshed is None:
            _store_once(
                primary,
                lambda: refresh_week(primary, period, now, doctor_timeout_s=doctor_timeout_s),
            )
            refreshed = refreshed_at(primary, period.week)
        found = _stored(reader, period.week, wanted, provisional=True)
        as_of = refreshed or now
    return WeekFigures(
        period=period,
        values={key: row.indicators for key, row in found.items()},
        as_of=as_of,
        provisional=not closed,
        revised={key for key, row in found.items() if row.revisions > 1},
    )


def _stored(
    session: Session, week: str, keys: set[tuple[str, str]], *, provisional: bool
) -> dict[tuple[str, str], Any]:
    """The stored rows of these subjects (their indicators, never the sums behind them)."""
    if not keys:
        return {}
    rows = session.execute(
        select(
            RollupSnapshot.level,
            RollupSnapshot.code,
            RollupSnapshot.indicators,
            RollupSnapshot.computed_at,
            RollupSnapshot.revisions,
        ).where(
            RollupSnapshot.week == week,
            RollupSnapshot.level.in_({level for level, _ in keys}),
            RollupSnapshot.code.in_({code for _, code in keys}),
            RollupSnapshot.provisional.is_(provisional),
        )
    )
    return {(row.level, row.code): row for row in rows if (row.level, row.code) in keys}


def _store_once(session: Session, store: Callable[[], object]) -> bool:
    """Run `store` in a savepoint; False when another request stored the same rows first."""
    try:
        with session.begin_nested():
            store()
    except IntegrityError:
        return False
    return True


def _snapshot_subjects(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    subjects: set[tuple[str, str]],
    doctor_timeout_s: int,
) -> None:
    """Compute the subjects a closed week's snapshot lacks (only their grids) and store them.

    A subject whose provisional row is still there (the week closed, `rollups-refresh`
    has not run since) has that row turned into its snapshot, as `snapshot_week` does."""
    places = [
        place for place in grid_places(session, subjects) if subjects & set(subject_keys(place))
    ]
    if not places:
        return
    rollup = compute_week(session, period, now, places=places, doctor_timeout_s=doctor_timeout_s)
    computed = subjects & set(rollup.values)
    provisional = {
        (row.level, row.code): row
        for row in session.scalars(
            select(RollupSnapshot).where(
                RollupSnapshot.week == period.week,
                RollupSnapshot.level.in_({level for level, _ in computed}),
                RollupSnapshot.code.in_({code for _, code in computed}),
                RollupSnapshot.provisional.is_(True),
            )
        )
    }
    for level, code in sorted(computed):
        values = rollup.values[(level, code)]
        row = provisional.get((level, code))
        if row is None:
            session.add(new_snapshot(period.week, level, code, values, now))
        else:
            row.indicators = values
            row.computed_at = row.first_computed_at = now
            row.revisions = 1
            row.provisional = False
            row.parts = None
    session.flush()


@dataclass(frozen=True)
class TrendPoint:
    week: str
    bp_control: float | None
    glucose_control: float | None
    coverage: float | None
    attendance: float | None


def trend_points(
    session: Session,
    level: str,
    code: str,
    last_week: str,
    now: datetime,
    tz: ZoneInfo,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
    primary: Session | None = None,
) -> list[TrendPoint]:
    """The 12 weeks ending with `last_week`: control rates, report coverage, attendance.

    With `primary`, from stored rows, as the township and county pages read them
    (`stored_figures`: what `session` lacks is stored through `primary`)."""
    points = []
    for week in weeks_back(last_week, TREND_WEEKS):
        period = WeekPeriod(week, tz)
        if period.start > now:
            continue
        subject = [(level, code)]
        if primary is None:
            figures = week_figures(session, period, now, subject, doctor_timeout_s=doctor_timeout_s)
        else:
            figures = stored_figures(
                session, period, now, subject, primary=primary, doctor_timeout_s=doctor_timeout_s
            )
        values = figures.of(level, code)
        points.append(
            TrendPoint(
                week=week,
                bp_control=rate(values.get("bp_controlled"), values.get("htn_denominator")),
                glucose_control=rate(
                    values.get("glucose_controlled"), values.get("dm_denominator")
                ),
                coverage=rate(values.get("grids_reported"), values.get("grids")),
                attendance=rate(values.get("attendance"), values.get("members")),
            )
        )
    return points


@dataclass(frozen=True)
class MemberRow:
    grid_code: str
    seat: int
    code: str
    name: str
    phone: str | None
    colour: str
    reasons: tuple[str, ...]
    systolic: int | None
    diastolic: int | None
    bp_week: str | None
    glucose: Any
    glucose_week: str | None
    silent: bool
    lost: bool


def member_rows(session: Session, period: WeekPeriod, grid_ids: Sequence[int]) -> list[MemberRow]:
    """Members of the grids at the week's end with their colour and why (same SQL as counts)."""
    if not grid_ids:
        return []
    # Scoped to the grids' members in every part, not only filtered at the end.
    patients = scope_patients(session, grid_ids)
    status = member_status(period, list(grid_ids), patients).subquery("status")
    rows = session.execute(
        select(status, Patient.code, Patient.name, Patient.phone, Grid.code.label("grid_code"))
        .join(Patient, Patient.id == status.c.patient_id)
        .join(Grid, Grid.id == status.c.grid_id)
        .order_by(Grid.code, status.c.seat)
    ).mappings()
    result = []
    for row in rows:
        colour = "red" if row["red"] else "yellow" if row["yellow"] else "green"
        reasons = tuple(
            reason
            for reason, column in (
                ("urgent", "red_urgent"),
                ("bp", "red_bp"),
                ("glucose", "red_glucose"),
                ("hospitalised", "red_hospitalised"),
            )
            if row[column]
        )
        result.append(
            MemberRow(
                grid_code=row["grid_code"],
                seat=row["seat"],
                code=row["code"],
                name=row["name"],
                phone=row["phone"],
                colour=colour,
                reasons=reasons,
                systolic=row["systolic"],
                diastolic=row["diastolic"],
                bp_week=row["bp_week"],
                glucose=row["glucose_mmol"],
                glucose_week=row["glucose_week"],
                silent=bool(row["members_no_news_2w"]),
                lost=bool(row["lost_to_follow_up"]),
            )
        )
    return result


def member_colours(
    session: Session, period: WeekPeriod, grid_ids: Sequence[int], patient_ids: Sequence[int]
) -> dict[int, str]:
    """{patient id: colour at the week's end} of a few members of `grid_ids` (a list of
    the most overdue): only their rows are read, not their grids' every member's."""
    patients = tuple(sorted({int(patient_id) for patient_id in patient_ids}))
    if not grid_ids or not patients:
        return {}
    status = member_status(period, list(grid_ids), patients).subquery("status")
    rows = session.execute(select(status.c.patient_id, status.c.red, status.c.yellow))
    return {
        patient_id: "red" if red else "yellow" if yellow else "green"
        for patient_id, red, yellow in rows
    }


@dataclass(frozen=True)
class OpenCase:
    code: str
    grid_code: str
    seat: int | None
    member_name: str | None
    text: str
    received_at: datetime


def open_cases(session: Session, grid_ids: Sequence[int], now: datetime) -> list[OpenCase]:
    """Urgent cases of these grids nobody has acknowledged yet, oldest first."""
    if not grid_ids:
        return []
    rows = session.execute(
        select(
            UrgentReport.code,
            Grid.code,
            UrgentReport.seat,
            Patient.name,
            UrgentReport.text,
            UrgentReport.received_at,
        )
        .join(Grid, Grid.id == UrgentReport.grid_id)
        .outerjoin(Patient, Patient.id == UrgentReport.patient_id)
        .where(
            UrgentReport.grid_id.in_(grid_ids),
            UrgentReport.acknowledged_at.is_(None),
            UrgentReport.received_at <= now,
        )
        .order_by(UrgentReport.received_at)
    )
    return [OpenCase(*row) for row in rows]


@dataclass(frozen=True)
class GridLine:
    grid: Grid
    number: int
    coordinator: str | None
    reported_at: datetime | None
    deputy: str | None = None
    stand_in: str | None = None
    """Why the deputy leads now (`grids.outreach.leaders.StandIn`), or None."""


def doctor_grids(session: Session, doctor: Doctor, week: str) -> list[GridLine]:
    grids = session.scalars(select(Grid).where(Grid.doctor_id == doctor.id).order_by(*_BY_NUMBER))
    return _grid_lines(session, list(grids), week)


_BY_NUMBER = (Grid.doctor_number.is_(None), Grid.doctor_number, Grid.code)
"""A doctor's grids by the number each keeps for him (grids.formation.numbers)."""


def _grid_lines(session: Session, grids: list[Grid], week: str) -> list[GridLine]:
    ids = [grid.id for grid in grids]
    coordinators: dict[int, str] = dict(
        session.execute(
            select(Grid.id, Patient.name)
            .join(Patient, Patient.id == Grid.coordinator_id)
            .where(Grid.id.in_(ids))
        )
        .tuples()
        .all()
    )
    reported: dict[int, datetime] = dict(
        session.execute(
            select(WeeklyReport.grid_id, WeeklyReport.first_received_at).where(
                WeeklyReport.grid_id.in_(ids), WeeklyReport.week == week
            )
        )
        .tuples()
        .all()
    )
    deputies: dict[int, str] = dict(
        session.execute(
            select(Grid.id, Patient.name)
            .join(Patient, Patient.id == Grid.deputy_id)
            .where(Grid.id.in_(ids))
        )
        .tuples()
        .all()
    )
    stand_ins = standing_in(
        session,
        [
            GridLeaders(grid.id, grid.coordinator_id, grid.deputy_id, grid.created_at)
            for grid in grids
        ],
        clock_now(),
    )
    return [
        GridLine(
            grid,
            grid.doctor_number or position,  # the number kept for its doctor
            coordinators.get(grid.id),
            reported.get(grid.id),
            deputies.get(grid.id),
            stand_ins.get(grid.id),
        )
        for position, grid in enumerate(grids, start=1)
    ]


def grid_line(session: Session, grid: Grid, week: str) -> GridLine:
    siblings = (
        list(
            session.scalars(
                select(Grid).where(Grid.doctor_id == grid.doctor_id).order_by(*_BY_NUMBER)
            )
        )
        if grid.doctor_id
        else [grid]
    )
    lines = _grid_lines(session, siblings, week)
    return next(line for line in lines if line.grid.id == grid.id)


def children(session: Session, level: str, code: str) -> list[tuple[str, str, str]]:
    """Subjects one level down, (level, code, name): township -> doctors, county -> townships."""
    if level == "township":
        codes = sorted(
            {
                doctor
                for doctor, township, _ in area_doctors(session, code)
                if township == code and doctor
            }
        )
        names: dict[str, str] = dict(
            session.execute(select(Doctor.code, Doctor.name).where(Doctor.code.in_(codes)))
            .tuples()
            .all()
        )
        return [("doctor", c, names.get(c, c)) for c in codes]
    if level == "county":
        codes = sorted(
            {town for _, town, county in area_doctors(session, code) if county == code and town}
        )
        facility_names: dict[str, str] = dict(
            session.execute(select(Facility.code, Facility.name).where(Facility.code.in_(codes)))
            .tuples()
            .all()
        )
        return [("township", c, facility_names.get(c, c)) for c in codes]
    if level == "doctor":
        grids = sorted(p.grid_code for p in grid_places(session, [("doctor", code)]))
        return [("grid", c, c) for c in grids]
    return []


@dataclass(frozen=True)
class MessageLine:
    """One SMS of the grid's week, as the grid page shows it (phones masked)."""

    at: datetime
    inbound: bool
    seat: int | None
    name: str | None
    phone: str
    body: str
    status: str | None


UNDELIVERED = frozenset({"failed", "undelivered", "suppressed"})


def grid_messages(
    session: Session, period: WeekPeriod, grid: Grid, members: Sequence[MemberRow]
) -> list[MessageLine]:
    """The SMS exchanged in the week with the grid's members (and its coordinator)."""
    who: dict[str, tuple[int | None, str | None]] = {
        member.phone: (member.seat, member.name) for member in members if member.phone
    }
    if grid.coordinator_id is not None:
        coordinator = session.get(Patient, grid.coordinator_id)
        if coordinator is not None and coordinator.phone and coordinator.phone not in who:
            who[coordinator.phone] = (None, coordinator.name)
    lines = []
    for message in messages_with(session, list(who), period.start, period.end):
        seat, name = who.get(message.phone, (None, None))
        status = None
        if not message.inbound and message.status in UNDELIVERED:
            status = "undelivered"
        elif not message.inbound and message.status in ("pending", "sending"):
            status = "pending"
        lines.append(
            MessageLine(
                at=message.at,
                inbound=message.inbound,
                seat=seat,
                name=name,
                phone=mask_phone(message.phone),
                body=mask_phones_in(message.body),
                status=status,
            )
        )
    return lines
