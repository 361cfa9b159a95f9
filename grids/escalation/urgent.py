"""Urgent reports: `急 5 胸痛` opens an escalation (or joins the open one of the same member).

The acknowledgement side (`收到 K7Q`) is in `grids.escalation.acknowledgement`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grids.core.limits import ACK_ALPHABET, ACK_CODE_LENGTH
from grids.core.notices import Notice
from grids.escalation.acknowledgement import AckOutcome, AckRefused, normalise_ack_code
from grids.escalation.ladder import CanReceive
from grids.escalation.models import Escalation
from grids.escalation.service import EscalationPolicy, open_escalation
from grids.models import Patient, UrgentReport
from grids.reports.senders import GridRoster

__all__ = [
    "AckOutcome",
    "AckRefused",
    "UrgentOutcome",
    "new_ack_code",
    "normalise_ack_code",
    "report_urgent",
]


def _anyone(_phone: str) -> bool:
    return True


@dataclass(frozen=True)
class UrgentOutcome:
    urgent: UrgentReport
    patient: Patient | None
    seat_known: bool
    """False when the seat named is not a current member's (reported anyway)."""
    notified: str
    """`doctor`, `facility` (the first step is a clinic, a township or the county
    hospital: the grid has no doctor, or the doctor's number cannot get SMS),
    `merged` (joined the open case of the same member) or `nobody`."""
    notified_name: str | None
    notices: list[Notice] = field(default_factory=list)
    unknown_seat: int | None = None
    """The seat written when no member holds it (`急 25 胸痛`)."""
    doctor_unreachable: str | None = None
    """The name of the grid's doctor when their number cannot get SMS."""
    escalation: Escalation | None = None
    merged_into: str | None = None
    """The code of the open case this report joined."""


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


def add_report(session: Session, **values: Any) -> UrgentReport:
    """Store a report that opens (or joins) a case, under a code no open report has."""
    for _ in range(5):
        candidate = UrgentReport(code=new_ack_code(session), **values)
        try:
            with session.begin_nested():
                session.add(candidate)
            return candidate
        except IntegrityError:
            continue  # another open report took the same code at the same moment
    raise RuntimeError("could not give the urgent report a unique code")


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
    policy: EscalationPolicy | None = None,
) -> UrgentOutcome:
    """Record an urgent case and open its escalation (or join the member's open one).

    With no seat, a member's case is their own; a coordinator's is about a member
    not named (the doctor is told who reported it and calls back), never silently
    the coordinator's own. A seat no current member holds is still reported (a
    mistyped seat must not stop an emergency), without a member. `can_receive`
    says whether a phone number can get SMS.
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

    urgent = add_report(
        session,
        grid_id=roster.grid.id if roster else None,
        patient_id=patient.id if patient else None,
        reporter_id=reporter.id,
        seat=seat,
        text=text,
        red_flag=red_flag,
        received_at=now,
        source_ref=source_ref,
    )

    policy = policy or EscalationPolicy(default_language=default_language)
    opened = open_escalation(
        session, urgent, now, policy=policy, can_receive=can_receive or _anyone
    )
    ladder = opened.ladder
    notified, notified_name = "nobody", None
    first = opened.first_step
    if opened.merged:
        notified = "merged"
    elif first is not None and first.level == "doctor":
        notified, notified_name = "doctor", first.contacts[0].name
    elif first is not None:
        notified, notified_name = "facility", first.facility_name
    return UrgentOutcome(
        urgent=urgent,
        patient=patient,
        seat_known=seat_known,
        notified=notified,
        notified_name=notified_name,
        notices=opened.notices,
        unknown_seat=unknown_seat,
        doctor_unreachable=ladder.doctor_unreachable,
        escalation=opened.escalation,
        merged_into=opened.escalation.code if opened.merged else None,
    )
