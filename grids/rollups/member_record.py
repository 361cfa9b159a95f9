"""A member's record for the member page: why he is flagged (in words, with the date and
the text that caused it), his readings and reports over 12 months, his cases with their
outcomes, his exchange attendance, and who looks after him."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.logging import mask_phones_in
from grids.channel import messages_with
from grids.escalation.board import CaseLine, patient_cases
from grids.models import (
    Doctor,
    ExchangeAttendance,
    Grid,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
)
from grids.rollups.boards import MemberRow, member_rows
from grids.rollups.indicators import RED_URGENT_WEEKS
from grids.rollups.period import WeekPeriod, current_week

YEAR = timedelta(days=365)
EVENT_FLAGS = ("hospitalised", "discharged", "missed_medication", "died")


@dataclass(frozen=True)
class Evidence:
    """One reason the member is flagged: `reason` (`urgent`, `bp`, `glucose`,
    `hospitalised`, `silent`, `lost`), when, what, and the message that said it."""

    reason: str
    at: datetime | None = None
    value: str = ""
    text: str = ""


@dataclass(frozen=True)
class ReportLine:
    week: str
    at: datetime
    events: tuple[str, ...]
    note: str | None


@dataclass(frozen=True)
class AttendanceLine:
    week: str
    present: bool | None
    """None: the coordinator sent a headcount, not seats."""
    headcount: int


@dataclass
class MemberRecord:
    patient: Patient
    row: MemberRow | None
    grid: Grid | None
    seat: int | None
    coordinator: Patient | None
    doctor: Doctor | None
    evidence: list[Evidence] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    reports: list[ReportLine] = field(default_factory=list)
    cases: list[CaseLine] = field(default_factory=list)
    attendance: list[AttendanceLine] = field(default_factory=list)

    @property
    def bp(self) -> list[Reading]:
        return [reading for reading in self.readings if reading.kind == "bp"]

    @property
    def glucose(self) -> list[Reading]:
        return [reading for reading in self.readings if reading.kind == "glucose"]


def _said(session: Session, phone: str | None, at: datetime) -> str:
    """The text received from `phone` at `at` (the message a reading came in)."""
    if not phone:
        return ""
    window = timedelta(seconds=2)
    for message in messages_with(session, [phone], at - window, at + window):
        if message.inbound:
            return mask_phones_in(message.body)
    return ""


def _latest(readings: list[Reading], kind: str) -> Reading | None:
    found = [reading for reading in readings if reading.kind == kind]
    return found[-1] if found else None


def _value(reading: Reading) -> str:
    if reading.kind == "bp":
        return f"{reading.systolic}/{reading.diastolic} mmHg"
    glucose = reading.glucose_mmol
    shown = format(glucose.normalize(), "f") if isinstance(glucose, Decimal) else str(glucose)
    return f"{shown} mmol/L"


def _evidence(
    session: Session, record: MemberRecord, now: datetime, phone: str | None
) -> list[Evidence]:
    row = record.row
    if row is None:
        return []
    found: list[Evidence] = []
    patient = record.patient
    for reason in row.reasons:
        if reason == "urgent":
            report = session.scalar(
                select(UrgentReport)
                .where(
                    UrgentReport.patient_id == patient.id,
                    UrgentReport.kind == "urgent",
                    UrgentReport.received_at >= now - timedelta(weeks=RED_URGENT_WEEKS),
                )
                .order_by(UrgentReport.received_at.desc())
                .limit(1)
            )
            if report is not None:
                found.append(Evidence("urgent", report.received_at, report.code, report.text))
        elif reason in ("bp", "glucose"):
            reading = _latest(record.readings, reason)
            if reading is not None:
                said = _said(session, phone, reading.reported_at)
                found.append(Evidence(reason, reading.reported_at, _value(reading), said))
        elif reason == "hospitalised":
            stay = next(
                (line for line in reversed(record.reports) if "hospitalised" in line.events),
                None,
            )
            found.append(Evidence("hospitalised", stay.at if stay else None, "", ""))
    if row.silent:
        found.append(Evidence("silent"))
    if row.lost:
        found.append(Evidence("lost"))
    return found


def member_record(
    session: Session, patient: Patient, now: datetime, period: WeekPeriod
) -> MemberRecord:
    """Everything the member page shows of `patient` as of `now` (the week `period`:
    the current one, provisional)."""
    membership = session.scalar(
        select(Membership)
        .where(Membership.patient_id == patient.id, Membership.left_at.is_(None))
        .limit(1)
    )
    grid = session.get(Grid, membership.grid_id) if membership else None
    coordinator = (
        session.get(Patient, grid.coordinator_id) if grid and grid.coordinator_id else None
    )
    doctor = grid.doctor if grid is not None else None
    row = None
    if grid is not None:
        week = WeekPeriod(current_week(now, period.tz), period.tz)
        row = next(
            (m for m in member_rows(session, week, [grid.id]) if m.code == patient.code), None
        )
    since = now - YEAR
    readings = list(
        session.scalars(
            select(Reading)
            .where(Reading.patient_id == patient.id, Reading.reported_at >= since)
            .order_by(Reading.reported_at)
        )
    )
    reports = [
        ReportLine(
            week=report.week,
            at=report.updated_at,
            events=tuple(flag for flag in EVENT_FLAGS if getattr(report, flag)),
            note=report.note,
        )
        for report in session.scalars(
            select(MemberReport)
            .where(MemberReport.patient_id == patient.id, MemberReport.updated_at >= since)
            .order_by(MemberReport.updated_at)
        )
    ]
    attendance: list[AttendanceLine] = []
    if grid is not None and membership is not None:
        for held in session.scalars(
            select(ExchangeAttendance)
            .where(ExchangeAttendance.grid_id == grid.id, ExchangeAttendance.reported_at >= since)
            .order_by(ExchangeAttendance.week.desc())
            .limit(53)
        ):
            seats: Any = held.seats
            present = None if not seats else membership.seat in seats
            attendance.append(AttendanceLine(held.week, present, held.headcount))
    record = MemberRecord(
        patient=patient,
        row=row,
        grid=grid,
        seat=membership.seat if membership else None,
        coordinator=coordinator,
        doctor=doctor,
        readings=readings,
        reports=reports,
        cases=patient_cases(session, patient.id),
        attendance=attendance,
    )
    record.evidence = _evidence(session, record, now, coordinator.phone if coordinator else None)
    return record
