"""Urgent reports and their acknowledgement: `急 5 胸痛` opens one, `收到 K7Q` closes it."""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grids.core.limits import ACK_ALPHABET, ACK_CODE_LENGTH
from grids.core.notices import Notice
from grids.escalation.routing import CanReceive, escalate
from grids.models import (
    Doctor,
    Grid,
    Patient,
    UrgentReport,
)
from grids.reports.errors import ReportRefused
from grids.reports.senders import GridRoster


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
            Notice.to_person(
                reporter,
                key=f"urgent:{urgent.id}:acknowledged:{reporter.id}",
                template="sms.urgent.acknowledged",
                params={
                    "doctor": doctor.name,
                    "code": urgent.code,
                    "seat": str(urgent.seat) if urgent.seat else "?",
                },
                urgent=True,
            )
        )
    return AckOutcome(
        urgent=urgent,
        grid=grid,
        patient=patient,
        reporter_told=bool(notices),
        notices=notices,
    )
