"""Applying what people report by SMS: weekly reports, attendance, urgent cases,
acknowledgements and changes to this week's exchange.

Services take a session and plain values and return results with the `Notice`s
to send; they never commit. Every check runs before anything is written, so a
refused report leaves the database as it was. Weeks are ISO weeks in the
county's time zone.

A later report in the same week amends the earlier one: members named again
get their new readings (one per kind and week; the later one replaces the
earlier) and any new events, and `好` marks as stable those not reported
otherwise; nothing reported earlier in the week is erased.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    func,
    lambda_stmt,
    or_,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only
from sqlalchemy.sql.lambdas import StatementLambdaElement

from grids.core.notices import Notice
from grids.core.vocabulary import PatientStatus
from grids.core.weeks import iso_week, week_monday
from grids.escalation.routing import CanReceive, escalate
from grids.models import (
    AuditEntry,
    Doctor,
    ExchangeAttendance,
    ExchangeOverride,
    Grid,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
from i18n import translate

T = TypeVar("T")

HOSPITALISED = "hospitalised"
DISCHARGED = "discharged"
MISSED_MEDICATION = "missed_medication"
DIED = "died"
EVENTS = (HOSPITALISED, DISCHARGED, MISSED_MEDICATION, DIED)

ACK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ACK_CODE_LENGTH = 3

SYSTOLIC_RANGE = (60, 300)
DIASTOLIC_RANGE = (30, 200)
GLUCOSE_RANGE = (Decimal("1.0"), Decimal("40.0"))
SEAT_RANGE = (1, 20)

# Members in these states are no longer followed week by week.
GONE = frozenset({PatientStatus.DECEASED, PatientStatus.MOVED_AWAY, PatientStatus.INACTIVE})


# --- errors: each says what was wrong; the SMS channel turns it into a correction ---


class ReportRefused(Exception):
    """What was sent cannot be applied; nothing was written."""


class UnknownSeats(ReportRefused):
    def __init__(self, seats: Sequence[int], occupied: Sequence[int]) -> None:
        super().__init__(f"no member in seat(s) {list(seats)}; occupied: {list(occupied)}")
        self.seats = tuple(seats)
        self.occupied = tuple(occupied)


class ImplausibleReading(ReportRefused):
    def __init__(self, seat: int, kind: str, value: str) -> None:
        super().__init__(f"seat {seat}: {kind} {value} is not a plausible reading")
        self.seat = seat
        self.kind = kind
        self.value = value


class HeadcountTooLarge(ReportRefused):
    def __init__(self, headcount: int, members: int) -> None:
        super().__init__(f"headcount {headcount} exceeds the grid's {members} members")
        self.headcount = headcount
        self.members = members


class ExchangeTimeRefused(ReportRefused):
    """`reason` is `past` (the time has gone) or `not_this_week`."""

    def __init__(self, reason: str, starts_at: datetime) -> None:
        super().__init__(
            f"cannot move this week's exchange to {starts_at:%Y-%m-%d %H:%M}: {reason}"
        )
        self.reason = reason
        self.starts_at = starts_at


class AckRefused(ReportRefused):
    """`reason`: `none_open`, `several_open`, `unknown_code`, `not_your_grid`,
    `already_acknowledged`."""

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        open_codes: Sequence[str] = (),
        urgent: UrgentReport | None = None,
    ) -> None:
        super().__init__(f"acknowledgement refused: {reason} {code or ''}".strip())
        self.reason = reason
        self.code = code
        self.open_codes = tuple(open_codes)
        self.urgent = urgent


# --- who is sending, and the grid they speak for ---


@dataclass(frozen=True)
class GridRoster:
    """A grid and its current members by seat."""

    grid: Grid
    members: Mapping[int, Patient]

    @property
    def occupied(self) -> list[int]:
        return sorted(self.members)

    def seat_of(self, patient_id: int) -> int | None:
        for seat, member in self.members.items():
            if member.id == patient_id:
                return seat
        return None

    def followed(self) -> dict[int, Patient]:
        """Members still followed week by week (not deceased, moved away or inactive)."""
        return {seat: m for seat, m in self.members.items() if m.status not in GONE}

    def check_seats(self, seats: Iterable[int]) -> None:
        unknown = sorted({seat for seat in seats if seat not in self.members})
        if unknown:
            raise UnknownSeats(unknown, self.occupied)


@dataclass(frozen=True)
class Sender:
    """Who texted: `doctor`, `coordinator` (of `grid`), `member` (of `grid`), `patient`
    (in no grid) or `unknown`."""

    role: str
    doctor: Doctor | None = None
    patient: Patient | None = None
    roster: GridRoster | None = None

    @property
    def language(self) -> str | None:
        person = self.doctor or self.patient
        return person.language if person is not None else None

    @property
    def person_id(self) -> int | None:
        person = self.doctor or self.patient
        return person.id if person is not None else None


# What the SMS channel reads or changes of a grid and its members. Other columns
# (conditions, birth year, exchange venue, ...) are left unloaded and load on first use.
ROSTER_GRID_COLUMNS = (Grid.id, Grid.code, Grid.facility_id, Grid.doctor_id, Grid.coordinator_id)
ROSTER_MEMBER_COLUMNS = (
    Patient.id,
    Patient.code,
    Patient.name,
    Patient.phone,
    Patient.facility_id,
    Patient.status,
    Patient.died_on,
    Patient.language,
)


def _with_members(query: Select[Any]) -> Select[Any]:
    """`query` (which selects from `Grid`) joined to the grid's current members by seat."""
    return (
        query.add_columns(Membership.seat, Patient)
        .outerjoin(Membership, and_(Membership.grid_id == Grid.id, Membership.left_at.is_(None)))
        .outerjoin(Patient, Patient.id == Membership.patient_id)
        .options(load_only(*ROSTER_GRID_COLUMNS), load_only(*ROSTER_MEMBER_COLUMNS))
        .order_by(Membership.seat)
    )


def _roster(grid: Grid, rows: Iterable[Any]) -> GridRoster:
    return GridRoster(
        grid=grid, members={row.seat: row.Patient for row in rows if row.seat is not None}
    )


# Statements used on every inbound SMS are built once: SQLAlchemy then finds their
# compiled form by a cache key computed once, not on each message.
_ROSTER = _with_members(select(Grid).where(Grid.id == bindparam("grid_id")))


def _sender_roster_query() -> Select[Any]:
    """Who owns `:phone` and, for a patient, the roster of the grid they speak for, in
    one round trip: one row per member (or one row with no grid)."""
    phone = bindparam("phone")
    patient_id = select(Patient.id).where(Patient.phone == phone).scalar_subquery()
    member_of = (
        select(Membership.grid_id)
        .where(Membership.patient_id == patient_id, Membership.left_at.is_(None))
        .limit(1)
        .scalar_subquery()
    )
    sender = select(
        select(Doctor.id).where(Doctor.phone == phone).scalar_subquery().label("doctor_id"),
        patient_id.label("patient_id"),
        select(Grid.id)
        .where(Grid.coordinator_id == patient_id, Grid.id == member_of)
        .scalar_subquery()
        .label("coordinates_own"),
        select(func.min(Grid.id))
        .where(Grid.coordinator_id == patient_id)
        .scalar_subquery()
        .label("coordinates_any"),
        member_of.label("member_of"),
    ).subquery("sender")
    spoken_for = func.coalesce(
        sender.c.coordinates_own, sender.c.coordinates_any, sender.c.member_of
    )
    return _with_members(
        select(sender)
        .select_from(sender)
        .add_columns(Grid)
        .outerjoin(Grid, and_(sender.c.doctor_id.is_(None), Grid.id == spoken_for))
    )


_SENDER_ROSTER = _sender_roster_query()


def load_roster(session: Session, grid: Grid | int) -> GridRoster:
    """The grid and its current members, in one query."""
    grid_id = grid if isinstance(grid, int) else grid.id
    rows = session.execute(_ROSTER, {"grid_id": grid_id}).all()
    if not rows:
        raise LookupError(f"no grid with id {grid_id}")
    return _roster(rows[0].Grid, rows)


def current_grid_of(session: Session, patient: Patient) -> Grid | None:
    return session.scalar(
        select(Grid)
        .join(Membership, Membership.grid_id == Grid.id)
        .where(Membership.patient_id == patient.id, Membership.left_at.is_(None))
    )


def identify_sender(session: Session, phone: str) -> Sender:
    """A doctor by phone, else a patient: the coordinator of a grid (the one they sit
    in, if they coordinate several), a member, or neither. One query finds who it is
    and, for a patient in a grid, that grid with its members."""
    rows = session.execute(_SENDER_ROSTER, {"phone": phone}).all()
    found = rows[0]
    if found.doctor_id is not None:
        return Sender("doctor", doctor=session.get(Doctor, found.doctor_id))
    if found.patient_id is None:
        return Sender("unknown")
    roster = _roster(found.Grid, rows) if found.Grid is not None else None
    # Loaded with the roster when they sit in the grid, so no second query then.
    patient = session.get(Patient, found.patient_id)
    if found.coordinates_own is not None or found.coordinates_any is not None:
        return Sender("coordinator", patient=patient, roster=roster)
    if roster is not None:
        return Sender("member", patient=patient, roster=roster)
    return Sender("patient", patient=patient)


def _table(model: type[Any]) -> Table:
    return model.__table__


def _get_or_create(
    session: Session, find: Callable[[], T | None], create: Callable[[], T]
) -> tuple[T, bool]:
    """The row `find` returns, else a new one; a concurrent insert of the same unique
    key (two deliveries at once) makes us use the other transaction's row."""
    found = find()
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            row = create()
            session.add(row)
        return row, True
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found, False


def _audit(
    session: Session,
    actor: Patient | Doctor,
    action: str,
    patient: Patient,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str,
    now: datetime,
) -> None:
    kind = "doctor" if isinstance(actor, Doctor) else "patient"
    session.add(
        AuditEntry(
            at=now,
            actor=f"sms:{kind}:{actor.code}"[:80],
            action=action,
            entity_type="patient",
            entity_code=patient.code,
            before=before,
            after=after,
            reason=reason,
        )
    )


# --- weekly reports ---


@dataclass(frozen=True)
class MemberUpdate:
    """What one report says of the member in `seat`."""

    seat: int
    systolic: int | None = None
    diastolic: int | None = None
    glucose_mmol: Decimal | None = None
    events: tuple[str, ...] = ()
    note: str | None = None

    @property
    def has_blood_pressure(self) -> bool:
        return self.systolic is not None and self.diastolic is not None


@dataclass(frozen=True)
class ReportOutcome:
    week: str
    amended: bool
    all_stable: bool
    stable_count: int
    """Members followed this week and not reported otherwise (when `all_stable`)."""
    updates: tuple[MemberUpdate, ...]
    """What this message said, one entry per seat, in the order first named."""
    doctor_told_of_deaths: bool = False
    notices: list[Notice] = field(default_factory=list)


def check_plausible(update: MemberUpdate) -> None:
    if update.systolic is not None or update.diastolic is not None:
        systolic, diastolic = update.systolic, update.diastolic
        value = f"{systolic}/{diastolic}"
        if (
            systolic is None
            or diastolic is None
            or not SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]
            or not DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]
            or systolic <= diastolic
        ):
            raise ImplausibleReading(update.seat, "bp", value)
    if update.glucose_mmol is not None:
        glucose = update.glucose_mmol
        if not (glucose.is_finite() and GLUCOSE_RANGE[0] <= glucose <= GLUCOSE_RANGE[1]):
            raise ImplausibleReading(update.seat, "glucose", str(glucose))
    unknown = [event for event in update.events if event not in EVENTS]
    if unknown:
        raise ValueError(f"unknown member events {unknown}; known: {', '.join(EVENTS)}")


def merge_updates(updates: Iterable[MemberUpdate]) -> tuple[MemberUpdate, ...]:
    """One entry per seat: events added up, the last reading of each kind kept."""
    merged: dict[int, MemberUpdate] = {}
    for update in updates:
        earlier = merged.get(update.seat)
        if earlier is None:
            merged[update.seat] = replace(update, events=tuple(dict.fromkeys(update.events)))
            continue
        merged[update.seat] = MemberUpdate(
            seat=update.seat,
            systolic=update.systolic if update.has_blood_pressure else earlier.systolic,
            diastolic=update.diastolic if update.has_blood_pressure else earlier.diastolic,
            glucose_mmol=(
                update.glucose_mmol if update.glucose_mmol is not None else earlier.glucose_mmol
            ),
            events=tuple(dict.fromkeys((*earlier.events, *update.events))),
            note=update.note or earlier.note,
        )
    return tuple(merged.values())


# --- writing reports ---
#
# Rows are created or amended with INSERT ... ON CONFLICT (the same on PostgreSQL and
# SQLite): one statement, which waits for a concurrent text about the same row to
# commit. SQLAlchemy 2.0 gives ON CONFLICT statements no cache key and would compile
# them again for every message; as lambda statements, which are cached by where their
# lambda is written, each is compiled once (so each needs a lambda of its own).


def _weekly_report_upsert(insert: Callable[[Table], Any]) -> Insert:
    table = _table(WeeklyReport)
    statement = insert(table)
    received = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.grid_id, table.c.week],
        set_={
            "revisions": table.c.revisions + 1,
            "last_received_at": received.last_received_at,
            "coordinator_id": received.coordinator_id,
            "all_stable": or_(table.c.all_stable, received.all_stable),
        },
    ).returning(table.c.id, table.c.revisions, table.c.all_stable)


def _member_report_upsert(insert: Callable[[Table], Any]) -> Insert:
    table = _table(MemberReport)
    statement = insert(table)
    named = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.weekly_report_id, table.c.patient_id],
        set_={
            "seat": named.seat,
            **{event: or_(table.c[event], named[event]) for event in EVENTS},
            "note": func.coalesce(named.note, table.c.note),
            "updated_at": named.updated_at,
        },
    )


READING_VALUES = ("grid_id", "systolic", "diastolic", "glucose_mmol", "reported_at", "source_ref")


def _reading_upsert(insert: Callable[[Table], Any]) -> Insert:
    table = _table(Reading)
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.patient_id, table.c.week, table.c.kind],
        set_={column: statement.excluded[column] for column in READING_VALUES},
    )


@dataclass(frozen=True)
class _Upserts:
    weekly_report: StatementLambdaElement
    member_reports: StatementLambdaElement
    readings: StatementLambdaElement


_UPSERTS = {
    "postgresql": _Upserts(
        weekly_report=lambda_stmt(lambda: _weekly_report_upsert(postgresql.insert)),
        member_reports=lambda_stmt(lambda: _member_report_upsert(postgresql.insert)),
        readings=lambda_stmt(lambda: _reading_upsert(postgresql.insert)),
    ),
    "sqlite": _Upserts(
        weekly_report=lambda_stmt(lambda: _weekly_report_upsert(sqlite.insert)),
        member_reports=lambda_stmt(lambda: _member_report_upsert(sqlite.insert)),
        readings=lambda_stmt(lambda: _reading_upsert(sqlite.insert)),
    ),
}


def _upserts(session: Session) -> _Upserts:
    return _UPSERTS[session.get_bind().dialect.name]


_NAMED_THIS_WEEK = select(MemberReport.patient_id).where(
    MemberReport.weekly_report_id == bindparam("report_id")
)


def _forget_loaded(session: Session, *models: type[Any]) -> None:
    """Rows of `models` were written by statements, not through the session: any copy
    the session holds is read again on next use."""
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, models):
            session.expire(loaded)


def _weekly_report(
    session: Session, grid_id: int, week: str, reporter_id: int, all_stable: bool, now: datetime
) -> tuple[int, int, bool]:
    """The week's report, created or amended: (id, revisions, all stable). The row stays
    locked until commit, so texts for one grid and week are applied one by one."""
    report_id, revisions, week_all_stable = session.execute(
        _upserts(session).weekly_report,
        {
            "grid_id": grid_id,
            "week": week,
            "coordinator_id": reporter_id,
            "all_stable": all_stable,
            "first_received_at": now,
            "last_received_at": now,
            "revisions": 1,
        },
    ).one()
    return report_id, revisions, bool(week_all_stable)


def _record_members(
    session: Session,
    roster: GridRoster,
    report_id: int,
    week: str,
    updates: Sequence[MemberUpdate],
    now: datetime,
    source_ref: str | None,
) -> None:
    """Flags, notes and readings of the members named, one statement for each table.
    Events only ever add up; a reading replaces the week's reading of its kind."""
    if not updates:
        return
    members: list[dict[str, Any]] = []
    readings: list[dict[str, Any]] = []
    for item in updates:
        patient_id = roster.members[item.seat].id
        members.append(
            {
                "weekly_report_id": report_id,
                "patient_id": patient_id,
                "week": week,
                "seat": item.seat,
                # Each event has a flag column of the same name.
                **{event: event in item.events for event in EVENTS},
                "note": item.note or None,
                "updated_at": now,
            }
        )
        reading = {
            "patient_id": patient_id,
            "grid_id": roster.grid.id,
            "week": week,
            "reported_at": now,
            "source_ref": source_ref,
        }
        if item.has_blood_pressure:
            readings.append(
                {
                    **reading,
                    "kind": "bp",
                    "systolic": item.systolic,
                    "diastolic": item.diastolic,
                    "glucose_mmol": None,
                }
            )
        if item.glucose_mmol is not None:
            readings.append(
                {
                    **reading,
                    "kind": "glucose",
                    "systolic": None,
                    "diastolic": None,
                    "glucose_mmol": item.glucose_mmol,
                }
            )
    upserts = _upserts(session)
    session.execute(upserts.member_reports, members)
    if readings:
        session.execute(upserts.readings, readings)


def _apply_events(
    session: Session,
    roster: GridRoster,
    patient: Patient,
    seat: int,
    events: Sequence[str],
    reporter: Patient,
    today: date,
    week: str,
    now: datetime,
) -> list[Notice]:
    notices: list[Notice] = []
    before = {"status": patient.status.value}
    if HOSPITALISED in events and patient.status == PatientStatus.ACTIVE:
        patient.status = PatientStatus.HOSPITALISED
    if DISCHARGED in events and patient.status == PatientStatus.HOSPITALISED:
        patient.status = PatientStatus.ACTIVE
    if DIED in events and patient.status != PatientStatus.DECEASED:
        patient.status = PatientStatus.DECEASED
        patient.died_on = today
        doctor = roster.grid.doctor
        if doctor is not None and doctor.phone:
            notices.append(
                Notice(
                    key=f"member-died:{patient.id}:doctor:{doctor.id}",
                    phone=doctor.phone,
                    language=doctor.language,
                    template="sms.notice.member_died",
                    params={
                        "grid": roster.grid.code,
                        "seat": str(seat),
                        "name": patient.name,
                        "date": today.isoformat(),
                    },
                    recipient_type="doctor",
                    recipient_id=doctor.id,
                )
            )
    after = {"status": patient.status.value}
    if patient.status == PatientStatus.DECEASED:
        after["died_on"] = patient.died_on.isoformat() if patient.died_on else None
    if after["status"] != before["status"]:
        _audit(
            session,
            reporter,
            "patient.status",
            patient,
            before,
            after,
            f"weekly report {week} of grid {roster.grid.code}, seat {seat}",
            now,
        )
    return notices


def record_weekly_report(
    session: Session,
    roster: GridRoster,
    reporter: Patient,
    *,
    all_stable: bool,
    updates: Sequence[MemberUpdate],
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None = None,
) -> ReportOutcome:
    """Store (or amend) this week's report of `roster.grid` from its coordinator."""
    merged = merge_updates(updates)
    roster.check_seats(u.seat for u in merged)
    for update in merged:
        check_plausible(update)

    grid = roster.grid
    week = iso_week(now, tz)
    today = now.astimezone(tz).date()

    session.flush()  # the report is written by statements: the session's changes go first
    report_id, revisions, week_all_stable = _weekly_report(
        session, grid.id, week, reporter.id, all_stable, now
    )
    _record_members(session, roster, report_id, week, merged, now, source_ref)
    _forget_loaded(session, WeeklyReport, MemberReport, Reading)
    notices: list[Notice] = []
    for member_update in merged:
        if member_update.events:
            notices += _apply_events(
                session,
                roster,
                roster.members[member_update.seat],
                member_update.seat,
                member_update.events,
                reporter,
                today,
                week,
                now,
            )
    session.flush()

    stable_count = 0
    if week_all_stable:
        # Members named this week are not counted stable: by this text alone when it
        # created the report, else by earlier texts too.
        if revisions == 1:
            named = {roster.members[update.seat].id for update in merged}
        else:
            named = set(session.scalars(_NAMED_THIS_WEEK, {"report_id": report_id}))
        stable_count = sum(
            1
            for member in roster.members.values()
            if member.status == PatientStatus.ACTIVE and member.id not in named
        )
    return ReportOutcome(
        week=week,
        amended=revisions > 1,
        all_stable=week_all_stable,
        stable_count=stable_count,
        updates=merged,
        doctor_told_of_deaths=any(n.template == "sms.notice.member_died" for n in notices),
        notices=notices,
    )


# --- exchange attendance ---


@dataclass(frozen=True)
class AttendanceOutcome:
    week: str
    amended: bool
    headcount: int
    seats: tuple[int, ...]


def record_attendance(
    session: Session,
    roster: GridRoster,
    *,
    headcount: int,
    seats: Sequence[int] = (),
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None = None,
) -> AttendanceOutcome:
    """This week's exchange attendance: a headcount, or the seats present."""
    present = tuple(sorted(set(seats)))
    if present:
        roster.check_seats(present)
        headcount = len(present)
    elif headcount < 0 or headcount > len(roster.members):
        raise HeadcountTooLarge(headcount, len(roster.members))
    week = iso_week(now, tz)
    reported = {
        "headcount": headcount,
        "seats": list(present) or None,
        "reported_at": now,
        "source_ref": source_ref,
    }
    session.flush()  # written by statements: the session's changes go first
    amended = _amend_attendance(session, roster.grid.id, week, reported)
    if not amended:
        try:
            with session.begin_nested():
                session.execute(
                    _table(ExchangeAttendance).insert(),
                    {"grid_id": roster.grid.id, "week": week, **reported},
                )
        except IntegrityError:
            # Another text for the same grid and week created it a moment ago.
            amended = _amend_attendance(session, roster.grid.id, week, reported)
            if not amended:
                raise
    return AttendanceOutcome(week=week, amended=amended, headcount=headcount, seats=present)


ATTENDANCE_VALUES = ("headcount", "seats", "reported_at", "source_ref")


def _attendance_update() -> Update:
    table = _table(ExchangeAttendance)
    return (
        sql_update(table)
        .where(table.c.grid_id == bindparam("grid"), table.c.week == bindparam("of_week"))
        .values({name: bindparam(name) for name in ATTENDANCE_VALUES})
    )


_AMEND_ATTENDANCE = _attendance_update()


def _amend_attendance(session: Session, grid_id: int, week: str, reported: dict[str, Any]) -> bool:
    """Replace the week's attendance if it was reported already; the row stays locked."""
    amended = session.execute(_AMEND_ATTENDANCE, {"grid": grid_id, "of_week": week, **reported})
    _forget_loaded(session, ExchangeAttendance)
    return amended.rowcount > 0


# --- urgent reports ---


@dataclass(frozen=True)
class UrgentOutcome:
    urgent: UrgentReport
    patient: Patient | None
    seat_known: bool
    """False when the seat named is not a current member's (reported anyway)."""
    notified: str
    """`doctor`, `facility` (a duty phone: the grid has no doctor, or the doctor's
    number cannot get SMS) or `nobody`."""
    notified_name: str | None
    notices: list[Notice] = field(default_factory=list)
    unknown_seat: int | None = None
    """The seat written when no member holds it (`急 25 胸痛`)."""
    doctor_unreachable: str | None = None
    """The name of the grid's doctor when their number cannot get SMS."""


def normalise_ack_code(code: str) -> str:
    return unicodedata.normalize("NFKC", code).strip().upper()


def new_ack_code(session: Session) -> str:
    """A code no open urgent report has; three characters that cannot be misread
    (no 0/O, 1/I). Each try is one lookup on the partial unique index."""
    for _ in range(200):
        code = "".join(secrets.choice(ACK_ALPHABET) for _ in range(ACK_CODE_LENGTH))
        taken = session.scalar(
            select(UrgentReport.id)
            .where(UrgentReport.code == code, UrgentReport.acknowledged_at.is_(None))
            .limit(1)
        )
        if taken is None:
            return code
    raise RuntimeError("no free acknowledgement code: too many urgent reports are open")


def report_urgent(
    session: Session,
    *,
    reporter: Patient,
    roster: GridRoster | None,
    seat: int | None,
    text: str,
    red_flag: bool = False,
    now: datetime,
    source_ref: str | None = None,
    default_language: str = "zh_CN",
    can_receive: CanReceive | None = None,
) -> UrgentOutcome:
    """Record an urgent case and hand it to the escalation service.

    With no seat, a member's case is their own; a coordinator's is about a member
    not named (the doctor is told who reported it and calls back), never silently
    the coordinator's own. A seat no current member holds is still reported (a
    mistyped seat must not stop an emergency), without a member. `can_receive`
    says whether a phone number can get SMS (see `grids.escalation.routing`).
    """
    patient: Patient | None = None
    seat_known = True
    unknown_seat: int | None = None
    if roster is None:
        patient, seat = reporter, None
    elif seat is None:
        if roster.grid.coordinator_id != reporter.id:
            patient, seat = reporter, roster.seat_of(reporter.id)
    elif seat in roster.members:
        patient = roster.members[seat]
    else:
        seat_known = False
        unknown_seat = seat
        text = f"{seat}: {text}"
        seat = None

    urgent: UrgentReport | None = None
    for _ in range(5):
        candidate = UrgentReport(
            code=new_ack_code(session),
            grid_id=roster.grid.id if roster else None,
            patient_id=patient.id if patient else None,
            reporter_id=reporter.id,
            seat=seat,
            text=text,
            red_flag=red_flag,
            received_at=now,
            source_ref=source_ref,
        )
        try:
            with session.begin_nested():
                session.add(candidate)
            urgent = candidate
            break
        except IntegrityError:
            continue  # another open report took the same code at the same moment
    if urgent is None:
        raise RuntimeError("could not give the urgent report a unique code")

    escalation = escalate(
        session, urgent, now, default_language=default_language, can_receive=can_receive
    )
    notified, notified_name = "nobody", None
    if escalation.doctor is not None:
        notified, notified_name = "doctor", escalation.doctor.name
    elif escalation.facility is not None:
        notified, notified_name = "facility", escalation.facility.name
    unreachable = escalation.doctor_unreachable
    return UrgentOutcome(
        urgent=urgent,
        patient=patient,
        seat_known=seat_known,
        notified=notified,
        notified_name=notified_name,
        notices=escalation.notices,
        unknown_seat=unknown_seat,
        doctor_unreachable=unreachable.name if unreachable is not None else None,
    )


# --- acknowledgements ---


@dataclass(frozen=True)
class AckOutcome:
    urgent: UrgentReport
    grid: Grid | None
    patient: Patient | None
    reporter_told: bool
    notices: list[Notice] = field(default_factory=list)


def open_urgent_codes(session: Session, doctor: Doctor) -> list[str]:
    return list(
        session.scalars(
            select(UrgentReport.code)
            .join(Grid, Grid.id == UrgentReport.grid_id)
            .where(Grid.doctor_id == doctor.id, UrgentReport.acknowledged_at.is_(None))
            .order_by(UrgentReport.received_at, UrgentReport.id)
        )
    )


def acknowledge(session: Session, doctor: Doctor, code: str | None, *, now: datetime) -> AckOutcome:
    """The grid's doctor takes an urgent report; its reporter is told who is handling it."""
    open_codes = open_urgent_codes(session, doctor)
    if code is None or not normalise_ack_code(code):
        if not open_codes:
            raise AckRefused("none_open")
        if len(open_codes) > 1:
            raise AckRefused("several_open", open_codes=open_codes)
        wanted = open_codes[0]
    else:
        wanted = normalise_ack_code(code)

    urgent = session.scalar(
        select(UrgentReport)
        .where(UrgentReport.code == wanted, UrgentReport.acknowledged_at.is_(None))
        .with_for_update()
    )
    if urgent is None:
        done = session.scalar(
            select(UrgentReport)
            .join(Grid, Grid.id == UrgentReport.grid_id)
            .where(UrgentReport.code == wanted, Grid.doctor_id == doctor.id)
            .order_by(UrgentReport.acknowledged_at.desc())
            .limit(1)
        )
        if done is not None:
            raise AckRefused("already_acknowledged", code=wanted, urgent=done)
        raise AckRefused("unknown_code", code=wanted, open_codes=open_codes)
    grid = session.get(Grid, urgent.grid_id) if urgent.grid_id else None
    if grid is None or grid.doctor_id != doctor.id:
        raise AckRefused("not_your_grid", code=wanted)

    urgent.acknowledged_at = now
    urgent.acknowledged_by_id = doctor.id
    session.flush()

    patient = session.get(Patient, urgent.patient_id) if urgent.patient_id else None
    reporter = session.get(Patient, urgent.reporter_id) if urgent.reporter_id else None
    notices: list[Notice] = []
    if reporter is not None and reporter.phone:
        notices.append(
            Notice(
                key=f"urgent:{urgent.id}:acknowledged:{reporter.id}",
                phone=reporter.phone,
                language=reporter.language,
                template="sms.urgent.acknowledged",
                params={
                    "doctor": doctor.name,
                    "code": urgent.code,
                    "seat": str(urgent.seat) if urgent.seat else "?",
                },
                urgent=True,
                recipient_type="patient",
                recipient_id=reporter.id,
            )
        )
    return AckOutcome(
        urgent=urgent,
        grid=grid,
        patient=patient,
        reporter_told=bool(notices),
        notices=notices,
    )


# --- moving or skipping this week's exchange ---


@dataclass(frozen=True)
class ExchangeOutcome:
    week: str
    skipped: bool
    starts_at: datetime | None
    """Aware, in the county's time zone."""
    unchanged: bool
    members_told: int
    notices: list[Notice] = field(default_factory=list)


WEEKDAY_KEYS = tuple(f"sms.notice.weekday.{n}" for n in range(7))


def _tell_members(
    roster: GridRoster,
    requester: Patient,
    week: str,
    source_ref: str,
    template: str,
    params: Callable[[Patient], dict[str, str]],
) -> list[Notice]:
    notices = []
    for member in roster.followed().values():
        if member.id == requester.id or not member.phone:
            continue
        notices.append(
            Notice(
                key=f"exchange:{roster.grid.id}:{week}:{source_ref}:{member.id}",
                phone=member.phone,
                language=member.language,
                template=template,
                params=params(member),
                recipient_type="patient",
                recipient_id=member.id,
            )
        )
    return notices


def _override(session: Session, grid: Grid, week: str) -> tuple[ExchangeOverride, bool]:
    def find() -> ExchangeOverride | None:
        return session.scalar(
            select(ExchangeOverride)
            .where(ExchangeOverride.grid_id == grid.id, ExchangeOverride.week == week)
            .with_for_update()
        )

    return _get_or_create(session, find, lambda: ExchangeOverride(grid_id=grid.id, week=week))


def exchange_start(
    *, at: time, weekday: int | None, days_ahead: int | None, now: datetime, tz: ZoneInfo
) -> datetime:
    """When `改 周四 19:00` / `改 明天 19:00` / `改 19:00` means, checked to be later
    this week; raises `ExchangeTimeRefused`."""
    local_now = now.astimezone(tz)
    week = iso_week(now, tz)
    if weekday is not None:
        day = week_monday(week) + timedelta(days=weekday)
    else:
        day = local_now.date() + timedelta(days=days_ahead or 0)
    starts = datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)
    if iso_week(starts, tz) != week:
        raise ExchangeTimeRefused("not_this_week", starts)
    if starts <= local_now:
        raise ExchangeTimeRefused("past", starts)
    return starts


def move_exchange(
    session: Session,
    roster: GridRoster,
    requester: Patient,
    *,
    at: time,
    weekday: int | None = None,
    days_ahead: int | None = None,
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None = None,
) -> ExchangeOutcome:
    """Move this week's exchange to a later time this week; members are told."""
    starts = exchange_start(at=at, weekday=weekday, days_ahead=days_ahead, now=now, tz=tz)
    return _change_exchange(
        session,
        roster,
        requester,
        starts_at=starts,
        now=now,
        tz=tz,
        source_ref=source_ref,
        template="sms.notice.exchange_moved",
        params=lambda member: {
            "grid": roster.grid.code,
            "weekday": translate(WEEKDAY_KEYS[starts.weekday()], member.language),
            "time": f"{starts:%H:%M}",
        },
    )


def skip_exchange(
    session: Session,
    roster: GridRoster,
    requester: Patient,
    *,
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None = None,
) -> ExchangeOutcome:
    """No exchange this week; members are told."""
    return _change_exchange(
        session,
        roster,
        requester,
        starts_at=None,
        now=now,
        tz=tz,
        source_ref=source_ref,
        template="sms.notice.exchange_skipped",
        params=lambda member: {"grid": roster.grid.code},
    )


def _change_exchange(
    session: Session,
    roster: GridRoster,
    requester: Patient,
    *,
    starts_at: datetime | None,
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None,
    template: str,
    params: Callable[[Patient], dict[str, str]],
) -> ExchangeOutcome:
    """Record this week's exchange as moved to `starts_at`, or skipped when None; members
    are told unless it already was so."""
    skipped = starts_at is None
    week = iso_week(now, tz)
    override, created = _override(session, roster.grid, week)
    unchanged = (
        not created and override.skipped == skipped and (skipped or override.starts_at == starts_at)
    )
    override.skipped = skipped
    override.starts_at = starts_at
    override.requested_by_id = requester.id
    override.created_at = now
    override.source_ref = source_ref
    session.flush()
    notices: list[Notice] = []
    if not unchanged:
        default_ref = "skip" if starts_at is None else f"{starts_at:%Y%m%dT%H%M}"
        notices = _tell_members(
            roster, requester, week, source_ref or default_ref, template, params
        )
    return ExchangeOutcome(
        week=week,
        skipped=skipped,
        starts_at=starts_at,
        unchanged=unchanged,
        members_told=len(notices),
        notices=notices,
    )


# --- a coordinator who stops receiving SMS ---


def coordinator_opted_out(
    session: Session, roster: GridRoster, coordinator: Patient, *, day: date
) -> list[Notice]:
    """The grid's doctor is asked to choose a new coordinator; once a day at most, so a
    coordinator who opts out and back in again and again does not flood the doctor."""
    doctor = roster.grid.doctor
    if doctor is None or not doctor.phone:
        return []
    return [
        Notice(
            key=f"coordinator-opted-out:{roster.grid.id}:{coordinator.id}:{day.isoformat()}",
            phone=doctor.phone,
            language=doctor.language,
            template="sms.notice.coordinator_opted_out",
            params={"grid": roster.grid.code, "name": coordinator.name},
            recipient_type="doctor",
            recipient_id=doctor.id,
        )
    ]
