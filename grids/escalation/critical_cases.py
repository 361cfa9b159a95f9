"""Opening the cases of critical readings: `好 5 血压185/115` puts an SMS on the doctor's
phone the same day (held until 07:00 at night), or joins the member's open case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.escalation.case import CaseKind
from grids.escalation.critical import Finding
from grids.escalation.ladder import CanReceive
from grids.escalation.models import Escalation
from grids.escalation.service import EscalationPolicy, open_escalation
from grids.escalation.urgent import add_report
from grids.models import Patient, UrgentReport
from grids.reports.senders import GridRoster

__all__ = ["CriticalCase", "CriticalOutcome", "reading_text", "report_critical"]


@dataclass(frozen=True)
class CriticalCase:
    seat: int
    patient: Patient
    reading: str
    escalation: Escalation
    merged: bool
    """Joined the member's open case (urgent or critical) instead of opening one."""
    notified: str | None
    """The name of whoever the first step tells (the doctor, else a facility)."""


@dataclass
class CriticalOutcome:
    cases: list[CriticalCase] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def reading_text(finding: Finding) -> str:
    """The reading in units every language reads: `185/115 mmHg`, `2.1 mmol/L`."""
    parts = []
    if finding.has_blood_pressure:
        parts.append(f"{finding.systolic}/{finding.diastolic} mmHg")
    if finding.glucose_mmol is not None:
        parts.append(f"{_number(finding.glucose_mmol)} mmol/L")
    return ", ".join(parts)


REPEAT_WINDOW = timedelta(days=7)


def _already_reported(session: Session, patient_id: int, text: str, now: datetime) -> bool:
    """The same reading again (an amended weekly report repeats it): no second case."""
    return (
        session.scalar(
            select(UrgentReport.id)
            .where(
                UrgentReport.patient_id == patient_id,
                UrgentReport.kind == CaseKind.CRITICAL,
                UrgentReport.text == text,
                UrgentReport.received_at > now - REPEAT_WINDOW,
            )
            .limit(1)
        )
        is not None
    )


def report_critical(
    session: Session,
    *,
    reporter: Patient | None,
    roster: GridRoster,
    found: Sequence[Finding],
    now: datetime,
    policy: EscalationPolicy,
    can_receive: CanReceive,
    source_ref: str | None = None,
) -> CriticalOutcome:
    """Open (or join) a critical case for each finding of `roster`'s grid; `reporter`
    None: the doctor read it at a follow-up."""
    outcome = CriticalOutcome()
    for finding in found:
        patient = roster.members.get(finding.seat)
        if patient is None:
            continue
        text = reading_text(finding)
        if _already_reported(session, patient.id, text, now):
            continue
        report = add_report(
            session,
            kind=CaseKind.CRITICAL,
            grid_id=roster.grid.id,
            patient_id=patient.id,
            reporter_id=reporter.id if reporter else None,
            seat=finding.seat,
            text=text,
            red_flag=False,
            received_at=now,
            source_ref=source_ref,
        )
        opened = open_escalation(session, report, now, policy=policy, can_receive=can_receive)
        first = opened.first_step
        notified = None
        if first is not None:
            notified = first.contacts[0].name if first.level == "doctor" else first.facility_name
        outcome.notices += opened.notices
        outcome.cases.append(
            CriticalCase(finding.seat, patient, text, opened.escalation, opened.merged, notified)
        )
    return outcome
