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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Insert,
    Table,
    bindparam,
    func,
    lambda_stmt,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.lambdas import StatementLambdaElement

from grids import audit
from grids.core.limits import DIASTOLIC_RANGE, GLUCOSE_RANGE, SYSTOLIC_RANGE
from grids.core.notices import Notice
from grids.core.vocabulary import MemberEvent, PatientStatus
from grids.core.weeks import iso_week
from grids.models import (
    MemberReport,
    Patient,
    Reading,
    WeeklyReport,
)
from grids.reports.errors import ImplausibleReading
from grids.reports.senders import GridRoster
from grids.storage.rows import forget_loaded, table_of

# --- weekly reports ---

EVENTS = tuple(MemberEvent)


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
    table = table_of(WeeklyReport)
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


def _member_report_upsert(insert: Callable[[Table], Any], partitioned: bool) -> Insert:
    table = table_of(MemberReport)
    statement = insert(table)
    named = statement.excluded
    # On PostgreSQL the key holds the partition key too (the week is the report's
    # week: a composite foreign key says so; docs/partitions.md).
    key = [table.c.weekly_report_id, table.c.patient_id]
    return statement.on_conflict_do_update(
        index_elements=[*key, table.c.week] if partitioned else key,
        set_={
            "seat": named.seat,
            **{str(event): or_(table.c[event], named[event]) for event in EVENTS},
            "note": func.coalesce(named.note, table.c.note),
            "updated_at": named.updated_at,
        },
    )


READING_VALUES = ("grid_id", "systolic", "diastolic", "glucose_mmol", "reported_at", "source_ref")


def _reading_upsert(insert: Callable[[Table], Any]) -> Insert:
    table = table_of(Reading)
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
        member_reports=lambda_stmt(lambda: _member_report_upsert(postgresql.insert, True)),
        readings=lambda_stmt(lambda: _reading_upsert(postgresql.insert)),
    ),
    "sqlite": _Upserts(
        weekly_report=lambda_stmt(lambda: _weekly_report_upsert(sqlite.insert)),
        member_reports=lambda_stmt(lambda: _member_report_upsert(sqlite.insert, False)),
        readings=lambda_stmt(lambda: _reading_upsert(sqlite.insert)),
    ),
}


def _upserts(session: Session) -> _Upserts:
    return _UPSERTS[session.get_bind().dialect.name]


# The week names the partition (PostgreSQL keeps one a month): without it the query
# would look in every month ever kept.
_NAMED_THIS_WEEK = select(MemberReport.patient_id).where(
    MemberReport.weekly_report_id == bindparam("report_id"),
    MemberReport.week == bindparam("week"),
)


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
    if MemberEvent.HOSPITALISED in events and patient.status == PatientStatus.ACTIVE:
        patient.status = PatientStatus.HOSPITALISED
    if MemberEvent.DISCHARGED in events and patient.status == PatientStatus.HOSPITALISED:
        patient.status = PatientStatus.ACTIVE
    if MemberEvent.DIED in events and patient.status != PatientStatus.DECEASED:
        patient.status = PatientStatus.DECEASED
        patient.died_on = today
        doctor = roster.grid.doctor
        if doctor is not None and doctor.phone:
            notices.append(
                Notice.to_person(
                    doctor,
                    key=f"member-died:{patient.id}:doctor:{doctor.id}",
                    template="sms.notice.member_died",
                    params={
                        "grid": roster.grid.code,
                        "seat": str(seat),
                        "name": patient.name,
                        "date": today.isoformat(),
                    },
                )
            )
    after: dict[str, str | None] = {"status": patient.status.value}
    if patient.status == PatientStatus.DECEASED:
        after["died_on"] = patient.died_on.isoformat() if patient.died_on else None
    if after["status"] != before["status"]:
        audit.record(
            session,
            actor=audit.actor("sms", "patient", reporter.code),
            action="patient.status",
            entity_type="patient",
            entity_code=patient.code,
            before=before,
            after=after,
            reason=f"weekly report {week} of grid {roster.grid.code}, seat {seat}",
            at=now,
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
    forget_loaded(session, WeeklyReport, MemberReport, Reading)
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
            named = set(session.scalars(_NAMED_THIS_WEEK, {"report_id": report_id, "week": week}))
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
