"""How a case ends: closed with an outcome, reminded while it is not, followed up after a
referral.

Anyone who may acknowledge a case may close it (`结 K7Q 转诊`, the case page, the API,
`escalations close --outcome`). A case acknowledged but not closed is reminded to whoever
acknowledged it once a day, up to `CLOSE_REMINDERS` times; after that it is listed as
待结案 to the township. `referred` and `admitted` are followed up `FOLLOWUP_DAYS` after
the close: the grid's doctor gets an SMS that day (and every week after until done), and
`复 K7Q 好转` records it. `died` (as an outcome or a follow-up) sets the member's status
as `9 去世` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids import audit
from grids.core.notices import Notice
from grids.core.vocabulary import PatientStatus
from grids.escalation import keys
from grids.escalation.acknowledgement import Acknowledger, may_acknowledge
from grids.escalation.case import FOLLOWED_UP, CaseOutcome, FollowupResult
from grids.escalation.models import Escalation, EscalationEvent, EscalationState, EventKind
from grids.escalation.service import event
from grids.models import Grid, Patient, UrgentReport
from i18n import normalise_language

FOLLOWUP_DAYS = 14
"""The national rule: an urgent referral is followed up within 2 weeks."""
CLOSE_REMINDERS = 3
FOLLOWUP_REPEAT_DAYS = 7
CLOSABLE = (EscalationState.OPEN, EscalationState.ACKNOWLEDGED)


class OutcomeRefused(ValueError):
    """`reason`: `unknown_code`, `already_closed`, `not_allowed`, `no_followup`,
    `already_followed_up` (the same result again), `followup_after_death` (a death is not
    changed by a later follow-up), `bad_outcome`."""

    def __init__(self, reason: str, code: str, escalation: Escalation | None = None) -> None:
        super().__init__(f"{reason}: {code}")
        self.reason = reason
        self.code = code
        self.escalation = escalation


@dataclass
class Closed:
    escalation: Escalation
    patient: Patient | None
    was_open: bool
    """It was still climbing (its pending messages are to be stopped)."""
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class FollowedUp:
    escalation: Escalation
    previous: str | None
    """The follow-up result this one replaced, if one was recorded before."""


def _latest(session: Session, code: str) -> Escalation | None:
    return session.scalar(
        select(Escalation)
        .where(Escalation.code == code)
        .order_by(Escalation.id.desc())
        .limit(1)
        .with_for_update()
    )


def _member_died(
    session: Session, patient: Patient | None, today: date, actor: str, why: str, now: datetime
) -> None:
    if patient is None or patient.status == PatientStatus.DECEASED:
        return
    before = {"status": patient.status.value}
    patient.status = PatientStatus.DECEASED
    patient.died_on = today
    audit.record(
        session,
        actor=actor,
        action="patient.status",
        entity_type="patient",
        entity_code=patient.code,
        before=before,
        after={"status": patient.status.value, "died_on": today.isoformat()},
        reason=why,
        at=now,
    )


def close_case(
    session: Session,
    code: str,
    *,
    outcome: str,
    reason: str | None,
    actor: str,
    closed_by: str,
    now: datetime,
    tz: ZoneInfo,
    who: Acknowledger | None = None,
) -> Closed:
    """Close the open or acknowledged case `code` with `outcome`; `who` (by SMS) must be
    someone who may acknowledge it. Audited."""
    if outcome not in set(CaseOutcome):
        raise OutcomeRefused("bad_outcome", code)
    escalation = _latest(session, code)
    if escalation is None:
        raise OutcomeRefused("unknown_code", code)
    if who is not None and not may_acknowledge(session, escalation, who):
        raise OutcomeRefused("not_allowed", code, escalation)
    if escalation.state not in CLOSABLE:
        raise OutcomeRefused("already_closed", code, escalation)
    was_open = escalation.state == EscalationState.OPEN
    before = {"state": escalation.state}
    today = now.astimezone(tz).date()
    escalation.state = EscalationState.CLOSED
    escalation.outcome = outcome
    escalation.closed_at = now
    escalation.closed_by = closed_by[:120]
    escalation.close_reason = reason
    escalation.next_step_at = None
    escalation.updated_at = now
    if outcome in FOLLOWED_UP:
        escalation.followup_due = today + timedelta(days=FOLLOWUP_DAYS)
    event(session, escalation, EventKind.CLOSED, now, detail=f"{outcome} {closed_by}".strip())
    if was_open:
        for report in session.scalars(
            select(UrgentReport).where(
                UrgentReport.escalation_id == escalation.id, UrgentReport.acknowledged_at.is_(None)
            )
        ):
            report.acknowledged_at = now  # frees the code
    patient = session.get(Patient, escalation.patient_id) if escalation.patient_id else None
    if outcome == CaseOutcome.DIED:
        _member_died(session, patient, today, actor, f"case {escalation.code} closed: died", now)
    audit.record(
        session,
        actor=actor,
        action="escalation.close",
        entity_type="escalation",
        entity_code=escalation.code,
        before=before,
        after={"state": EscalationState.CLOSED, "outcome": outcome},
        reason=reason,
        at=now,
    )
    return Closed(escalation, patient, was_open)


def record_followup(
    session: Session,
    code: str,
    *,
    result: str,
    actor: str,
    by: str,
    now: datetime,
    tz: ZoneInfo,
    who: Acknowledger | None = None,
) -> FollowedUp:
    """Record the referral follow-up of the closed case `code` (`复 K7Q 好转`). A later
    follow-up with another result replaces the earlier one (both stay on the timeline and
    in the audit log); a death, once recorded, is not replaced."""
    if result not in set(FollowupResult):
        raise OutcomeRefused("bad_outcome", code)
    escalation = session.scalar(
        select(Escalation)
        .where(Escalation.code == code, Escalation.followup_due.is_not(None))
        .order_by(Escalation.id.desc())
        .limit(1)
        .with_for_update()
    )
    if escalation is None:
        known = session.scalar(select(Escalation.id).where(Escalation.code == code).limit(1))
        raise OutcomeRefused("no_followup" if known is not None else "unknown_code", code)
    if who is not None and not may_acknowledge(session, escalation, who):
        raise OutcomeRefused("not_allowed", code, escalation)
    previous = escalation.followup_outcome
    if previous == result:
        raise OutcomeRefused("already_followed_up", code, escalation)
    if previous == FollowupResult.DIED:
        raise OutcomeRefused("followup_after_death", code, escalation)
    escalation.followup_outcome = result
    escalation.followup_at = now
    escalation.followup_by = by[:120]
    escalation.updated_at = now
    event(session, escalation, EventKind.FOLLOWED_UP, now, detail=f"{result} {by}".strip())
    if result == FollowupResult.DIED and escalation.patient_id:
        patient = session.get(Patient, escalation.patient_id)
        today = now.astimezone(tz).date()
        _member_died(session, patient, today, actor, f"case {code} follow-up: died", now)
    audit.record(
        session,
        actor=actor,
        action="escalation.followup",
        entity_type="escalation",
        entity_code=escalation.code,
        before={"followup": previous} if previous is not None else None,
        after={"followup": result},
        at=now,
    )
    return FollowedUp(escalation, previous)


def close_reminders(session: Session, now: datetime, language: str) -> list[Notice]:
    """Whoever acknowledged a case and has not closed it is reminded once a day, up to
    `CLOSE_REMINDERS` times (the day counted from the acknowledgement)."""
    notices: list[Notice] = []
    cases = session.scalars(
        select(Escalation)
        .where(
            Escalation.state == EscalationState.ACKNOWLEDGED,
            Escalation.close_reminders < CLOSE_REMINDERS,
            Escalation.acknowledged_at <= now - timedelta(days=1),
        )
        .order_by(Escalation.id)
        .with_for_update(skip_locked=True)
    )
    for case in cases:
        assert case.acknowledged_at is not None
        due = case.acknowledged_at + timedelta(days=case.close_reminders + 1)
        if now < due or not case.acknowledged_by_phone:
            continue
        case.close_reminders += 1
        phone = case.acknowledged_by_phone
        notices.append(
            Notice(
                key=keys.reminder_key(case.id, case.close_reminders),
                phone=phone,
                language=normalise_language(language),
                template="sms.case.close_reminder",
                params={
                    "code": case.code,
                    "grid": case.params.get("grid", "-"),
                    "seat": case.params.get("seat", "?"),
                    "name": case.params.get("name", ""),
                },
                recipient_type=case.acknowledged_by_kind,
                recipient_id=case.acknowledged_by_id,
            )
        )
        event(session, case, EventKind.REMINDED, now, recipient=phone, channel="sms")
    return notices


def followups_due(session: Session, now: datetime, tz: ZoneInfo) -> list[Notice]:
    """The grid's doctor is told of each referral follow-up on its day, and again every
    `FOLLOWUP_REPEAT_DAYS` until it is recorded."""
    today = now.astimezone(tz).date()
    notices: list[Notice] = []
    rows = session.execute(
        select(Escalation, Grid)
        .join(Grid, Grid.id == Escalation.grid_id)
        .where(
            Escalation.followup_due.is_not(None),
            Escalation.followup_due <= today,
            Escalation.followup_outcome.is_(None),
        )
        .order_by(Escalation.id)
    ).all()
    for case, grid in rows:
        doctor = grid.doctor
        if doctor is None or not doctor.phone or case.followup_due is None:
            continue
        overdue = (today - case.followup_due).days
        if overdue % FOLLOWUP_REPEAT_DAYS:
            continue
        number = overdue // FOLLOWUP_REPEAT_DAYS
        told = session.scalar(
            select(func.count(EscalationEvent.id)).where(
                EscalationEvent.escalation_id == case.id,
                EscalationEvent.kind == EventKind.FOLLOWUP_DUE,
            )
        )
        if (told or 0) > number:
            continue
        notice = Notice.to_person(
            doctor,
            key=keys.followup_key(case.id, number),
            template="sms.case.followup_due",
            params={
                "code": case.code,
                "grid": grid.code,
                "seat": case.params.get("seat", "?"),
                "name": case.params.get("name", ""),
            },
        )
        notices.append(notice)
        event(
            session,
            case,
            EventKind.FOLLOWUP_DUE,
            now,
            recipient=doctor.phone,
            channel="sms",
            detail=case.followup_due.isoformat(),
        )
    return notices
