"""Acknowledging an escalation: `收到 K7Q` / `ACK K7Q` by SMS, a bare `收到` when the sender
has exactly one open case, or 1 pressed on the call; and closing one by hand.

Only someone notified on the case's ladder, a doctor of a facility on it, or the duty
phone of a facility on it may acknowledge; anyone else is told they cannot. The
acknowledgement stops the ladder, tells the reporter who is handling the case, and
tells everyone already notified that it is taken.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids import audit
from grids.core.notices import Notice
from grids.escalation import keys
from grids.escalation.climb import NAME_LIMIT, clip
from grids.escalation.ladder import Ladder
from grids.escalation.models import Escalation, EscalationState, EventKind
from grids.escalation.service import event, notified_phones
from grids.models import Doctor, Facility, Grid, Patient, UrgentReport
from grids.reports.errors import ReportRefused
from i18n import normalise_language, translate

OPEN_LIMIT = 1000


def normalise_ack_code(code: str) -> str:
    return unicodedata.normalize("NFKC", code).strip().upper()


class AckRefused(ReportRefused):
    """`reason`: `none_open`, `several_open`, `unknown_code`, `not_your_grid` (a doctor not
    on the case's ladder), `not_allowed` (anyone else not on it), `already_acknowledged`."""

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        open_codes: Sequence[str] = (),
        urgent: UrgentReport | None = None,
        escalation: Escalation | None = None,
    ) -> None:
        super().__init__(f"acknowledgement refused: {reason} {code or ''}".strip())
        self.reason = reason
        self.code = code
        self.open_codes = tuple(open_codes)
        self.urgent = urgent
        self.escalation = escalation


@dataclass(frozen=True)
class Acknowledger:
    """Who acknowledges: a doctor, a facility's duty phone, or another number."""

    phone: str
    doctor: Doctor | None = None
    facilities: tuple[Facility, ...] = ()
    county_duty_phone: str | None = None

    def name(self, language: str) -> str:
        if self.doctor is not None:
            return self.doctor.name
        if self.facilities:
            return translate(
                "escalation.who.facility", language, facility=clip(self.facilities[0].name, 12)
            )
        if self.county_duty_phone and self.phone == self.county_duty_phone:
            return translate("escalation.who.county_duty", language)
        return translate("escalation.who.someone", language)

    @property
    def kind(self) -> str:
        if self.doctor is not None:
            return "doctor"
        return "facility" if self.facilities else "phone"


def acknowledger(
    session: Session,
    phone: str,
    *,
    doctor: Doctor | None = None,
    county_duty_phone: str | None = None,
) -> Acknowledger:
    facilities = tuple(session.scalars(select(Facility).where(Facility.phone == phone)))
    return Acknowledger(phone, doctor, facilities, county_duty_phone)


def may_acknowledge(session: Session, escalation: Escalation, who: Acknowledger) -> bool:
    ladder = Ladder.from_json(escalation.ladder)
    on_ladder = set(ladder.facility_ids)
    if who.doctor is not None and who.doctor.facility_id in on_ladder:
        return True
    if any(facility.id in on_ladder for facility in who.facilities):
        return True
    return who.phone in notified_phones(session, escalation.id)


def open_codes_for(session: Session, who: Acknowledger) -> list[str]:
    """Codes of the open cases `who` may acknowledge, oldest first."""
    cases = session.scalars(
        select(Escalation)
        .where(Escalation.state == EscalationState.OPEN)
        .order_by(Escalation.opened_at, Escalation.id)
        .limit(OPEN_LIMIT)
    )
    return [case.code for case in cases if may_acknowledge(session, case, who)]


@dataclass(frozen=True)
class AckOutcome:
    urgent: UrgentReport
    grid: Grid | None
    patient: Patient | None
    reporter_told: bool
    notices: list[Notice] = field(default_factory=list)
    escalation: Escalation | None = None


def _latest_with_code(session: Session, code: str) -> Escalation | None:
    return session.scalar(
        select(Escalation).where(Escalation.code == code).order_by(Escalation.id.desc()).limit(1)
    )


def acknowledge(
    session: Session,
    who: Acknowledger,
    code: str | None,
    *,
    now: datetime,
    channel: str = "sms",
    language: str = "zh_CN",
) -> AckOutcome:
    """`who` takes the case `code` (their one open case when None)."""
    code = normalise_ack_code(code) if code else None
    if not code:
        codes = open_codes_for(session, who)
        if not codes:
            raise AckRefused("none_open")
        if len(codes) > 1:
            raise AckRefused("several_open", open_codes=codes)
        code = codes[0]
    escalation = session.scalar(
        select(Escalation)
        .where(Escalation.code == code, Escalation.state == EscalationState.OPEN)
        .with_for_update()
    )
    if escalation is None:
        done = _latest_with_code(session, code)
        if done is not None and may_acknowledge(session, done, who):
            raise AckRefused("already_acknowledged", code=code, escalation=done)
        raise AckRefused("unknown_code", code=code, open_codes=open_codes_for(session, who))
    if not may_acknowledge(session, escalation, who):
        reason = "not_your_grid" if who.doctor is not None else "not_allowed"
        raise AckRefused(reason, code=code)
    return _apply(session, escalation, who, now=now, channel=channel, language=language)


def _apply(
    session: Session,
    escalation: Escalation,
    who: Acknowledger,
    *,
    now: datetime,
    channel: str,
    language: str,
) -> AckOutcome:
    name = who.name(normalise_language(language))
    escalation.state = EscalationState.ACKNOWLEDGED
    escalation.acknowledged_at = now
    escalation.acknowledged_by = name
    escalation.acknowledged_by_kind = who.kind
    escalation.acknowledged_by_id = (
        who.doctor.id if who.doctor else who.facilities[0].id if who.facilities else None
    )
    escalation.acknowledged_by_phone = who.phone
    escalation.next_step_at = None
    escalation.updated_at = now
    event(
        session,
        escalation,
        EventKind.ACKNOWLEDGED,
        now,
        recipient=who.phone,
        channel=channel,
        detail=name,
    )
    reports = list(
        session.scalars(
            select(UrgentReport)
            .where(UrgentReport.escalation_id == escalation.id)
            .order_by(UrgentReport.id)
        )
    )
    for report in reports:
        if report.acknowledged_at is None:
            report.acknowledged_at = now
            report.acknowledged_by_id = who.doctor.id if who.doctor else None
    session.flush()

    first = reports[0]
    notices: list[Notice] = []
    reporters: dict[int, Patient] = {}
    for report in reports:
        reporter = session.get(Patient, report.reporter_id) if report.reporter_id else None
        if reporter is not None and reporter.phone:
            reporters.setdefault(reporter.id, reporter)
    for reporter in reporters.values():
        by_doctor = who.doctor is not None
        notices.append(
            Notice(
                key=keys.ack_key(escalation.id, reporter.phone or ""),
                phone=reporter.phone or "",
                language=reporter.language,
                template="sms.urgent.acknowledged" if by_doctor else "sms.urgent.acknowledged_by",
                params={
                    "doctor": clip(name, NAME_LIMIT + 4),
                    "who": clip(name, NAME_LIMIT + 6),
                    "code": escalation.code,
                    "seat": str(escalation.seat) if escalation.seat else "?",
                },
                urgent=True,
                recipient_type="patient",
                recipient_id=reporter.id,
            )
        )
    told = {who.phone, *(reporter.phone for reporter in reporters.values())}
    # Told by SMS: a landline that was only called cannot read it.
    for phone in notified_phones(session, escalation.id, channel="sms"):
        if phone in told:
            continue
        told.add(phone)
        notices.append(
            Notice(
                key=keys.taken_key(escalation.id, phone),
                phone=phone,
                language=normalise_language(language),
                template="sms.urgent.taken",
                params={"code": escalation.code, "who": clip(name, NAME_LIMIT + 6)},
                urgent=True,
            )
        )
    grid = session.get(Grid, escalation.grid_id) if escalation.grid_id else None
    patient = session.get(Patient, escalation.patient_id) if escalation.patient_id else None
    return AckOutcome(
        urgent=first,
        grid=grid,
        patient=patient,
        reporter_told=bool(reporters),
        escalation=escalation,
        notices=notices,
    )


class EscalationNotFound(LookupError):
    pass


class CloseReasonRequired(ValueError):
    """A case is closed with a written reason, never silently."""


class EscalationNotOpen(ValueError):
    def __init__(self, escalation: Escalation) -> None:
        super().__init__(f"escalation {escalation.code} is {escalation.state}")
        self.escalation = escalation


def close_escalation(
    session: Session, code: str, *, reason: str, actor: str, now: datetime
) -> Escalation:
    """An administrator closes an open case (handled by phone, a false alarm); audited."""
    if not reason.strip():
        raise CloseReasonRequired(code)
    escalation = session.scalar(
        select(Escalation)
        .where(Escalation.code == code, Escalation.state == EscalationState.OPEN)
        .with_for_update()
    )
    if escalation is None:
        latest = _latest_with_code(session, code)
        if latest is None:
            raise EscalationNotFound(code)
        raise EscalationNotOpen(latest)
    escalation.state = EscalationState.CLOSED
    escalation.closed_at = now
    escalation.close_reason = reason
    escalation.next_step_at = None
    escalation.updated_at = now
    event(session, escalation, EventKind.CLOSED, now, detail=reason)
    for report in session.scalars(
        select(UrgentReport).where(
            UrgentReport.escalation_id == escalation.id, UrgentReport.acknowledged_at.is_(None)
        )
    ):
        # Frees the code; the case's own row says it was closed, not acknowledged.
        report.acknowledged_at = now
    audit.record(
        session,
        actor=actor,
        action="escalation.close",
        entity_type="escalation",
        entity_code=escalation.code,
        before={"state": EscalationState.OPEN},
        after={"state": EscalationState.CLOSED},
        reason=reason,
        at=now,
    )
    return escalation


def record_keypress(
    session: Session, escalation_id: int, phone: str, digits: str, now: datetime
) -> Escalation | None:
    """Put a key pressed on an escalation call on the case's timeline; returns the case."""
    escalation = session.get(Escalation, escalation_id)
    if escalation is not None:
        event(
            session,
            escalation,
            EventKind.KEYPRESS,
            now,
            recipient=phone,
            channel="voice",
            detail=digits[:8] or "-",
        )
    return escalation
