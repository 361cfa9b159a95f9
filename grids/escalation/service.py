"""Opening an escalation for an urgent report, merging reports into it, retargeting it.

The ladder is built from the cached hierarchy (or, right after a roster change, from
the rows it reads) and copied onto the escalation. The rules themselves are
`grids.escalation.climb` (pure); this module loads the case, hands the rules a plain
copy, writes the new state and timeline back to the session and returns the `Notice`s
(SMS or calls) for the caller to enqueue in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Unpack

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.settings import EscalationTimeouts
from grids.core.limits import URGENT_FORWARD_CHARS
from grids.core.notices import Notice
from grids.escalation import climb
from grids.escalation.case import CaseKind, CaseRow
from grids.escalation.climb import NAME_LIMIT, Climb, TimelineEntry, clip
from grids.escalation.critical import critical_ladder
from grids.escalation.hierarchy import HierarchyError
from grids.escalation.ladder import SMS, CanReceive, Contact, Ladder, Step, build_ladder
from grids.escalation.models import Escalation, EscalationEvent, EscalationState, EventKind
from grids.escalation.roster_graph import hierarchy_for_ladder
from grids.models import Grid, Patient, UrgentReport
from i18n import normalise_language

__all__ = [
    "NAME_LIMIT",
    "EscalationPolicy",
    "Opened",
    "case_params",
    "clip",
    "event",
    "ladder_for",
    "notified_phones",
    "open_escalation",
    "open_for_patient",
    "retarget",
]


@dataclass(frozen=True)
class EscalationPolicy:
    """What a county configures: timeouts per level and the bureau's duty phone."""

    timeouts: Mapping[str, int] = field(default_factory=lambda: EscalationTimeouts().as_dict())
    county_duty_phone: str | None = None
    default_language: str = "zh_CN"
    critical_ack_hours: int = 24
    timezone: str = "Asia/Shanghai"


@dataclass
class Opened:
    escalation: Escalation
    ladder: Ladder
    merged: bool = False
    notices: list[Notice] = field(default_factory=list)

    @property
    def first_step(self) -> Step | None:
        return self.ladder.steps[0] if self.ladder.steps and not self.merged else None


def _store(session: Session, entries: Iterable[TimelineEntry]) -> None:
    session.add_all(EscalationEvent(**values) for values in entries)


def _apply(session: Session, escalation: Escalation, result: Climb) -> list[Notice]:
    """Write what a rule did to the row and the session; returns its notices."""
    result.case.copy_to(escalation)
    _store(session, result.timeline)
    return result.notices


def event(
    session: Session,
    escalation: Escalation,
    kind: str,
    now: datetime,
    **where: Unpack[climb.Where],
) -> None:
    """Add an entry to the case's timeline."""
    session.add(EscalationEvent(**climb.entry(CaseRow.of(escalation), kind, now, **where)))


def case_params(session: Session, urgent: UrgentReport) -> dict[str, str]:
    grid = session.get(Grid, urgent.grid_id) if urgent.grid_id else None
    patient = session.get(Patient, urgent.patient_id) if urgent.patient_id else None
    reporter = session.get(Patient, urgent.reporter_id) if urgent.reporter_id else None
    return {
        "grid": grid.code if grid else "-",
        "seat": str(urgent.seat) if urgent.seat else "?",
        "name": patient.name if patient else "",
        "text": clip(urgent.text, URGENT_FORWARD_CHARS),
        "code": urgent.code,
        "phone": (reporter.phone if reporter and reporter.phone else "-"),
        "reporter": clip(reporter.name, NAME_LIMIT) if reporter else "-",
    }


def ladder_for(
    session: Session,
    *,
    grid_id: int | None,
    facility_id: int | None,
    policy: EscalationPolicy,
    can_receive: CanReceive,
    red_flag: bool = False,
    kind: str = CaseKind.URGENT,
) -> Ladder:
    """The ladder of a grid (or, for a patient in no grid, of their facility); a critical
    case's is hours-scale and held at night."""
    ladder = _urgent_ladder(
        session,
        grid_id=grid_id,
        facility_id=facility_id,
        policy=policy,
        can_receive=can_receive,
        red_flag=red_flag and kind == CaseKind.URGENT,
    )
    if kind != CaseKind.CRITICAL:
        return ladder
    return critical_ladder(ladder, ack_hours=policy.critical_ack_hours, timezone=policy.timezone)


def _urgent_ladder(
    session: Session,
    *,
    grid_id: int | None,
    facility_id: int | None,
    policy: EscalationPolicy,
    can_receive: CanReceive,
    red_flag: bool,
) -> Ladder:
    hierarchy = hierarchy_for_ladder(session, grid_id=grid_id, facility_id=facility_id)
    try:
        return build_ladder(
            hierarchy,
            grid_id=grid_id,
            facility_id=facility_id,
            timeouts=policy.timeouts,
            can_receive=can_receive,
            red_flag=red_flag,
            county_duty_phone=policy.county_duty_phone,
            language=normalise_language(policy.default_language),
        )
    except (HierarchyError, ValueError):
        return Ladder(steps=(), county_duty=_duty_contact(policy))


def _duty_contact(policy: EscalationPolicy) -> Contact | None:
    if not policy.county_duty_phone:
        return None
    language = normalise_language(policy.default_language)
    return Contact("county_duty", None, "", policy.county_duty_phone, language, SMS)


def open_for_patient(session: Session, patient_id: int, *, lock: bool = True) -> Escalation | None:
    query = select(Escalation).where(
        Escalation.patient_id == patient_id, Escalation.state == EscalationState.OPEN
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _merge(
    session: Session,
    escalation: Escalation,
    urgent: UrgentReport,
    now: datetime,
    *,
    policy: EscalationPolicy,
    can_receive: CanReceive,
) -> Opened:
    urgent.escalation_id = escalation.id
    if escalation.kind == CaseKind.CRITICAL and urgent.kind == CaseKind.URGENT:
        ladder = ladder_for(
            session,
            grid_id=escalation.grid_id,
            facility_id=None,
            policy=policy,
            can_receive=can_receive,
            red_flag=urgent.red_flag,
        )
        return _made_urgent(session, escalation, urgent, now, ladder)
    new_red_flag = urgent.red_flag and not escalation.red_flag
    if new_red_flag:
        escalation.red_flag = True
    result, ladder = climb.merged(
        CaseRow.of(escalation),
        Ladder.from_json(escalation.ladder),
        now,
        detail=f"{urgent.code}: {urgent.text}",
        new_red_flag=new_red_flag,
    )
    notices = _apply(session, escalation, result)
    return Opened(escalation=escalation, ladder=ladder, merged=True, notices=notices)


def _made_urgent(
    session: Session, escalation: Escalation, urgent: UrgentReport, now: datetime, ladder: Ladder
) -> Opened:
    """An urgent report about a member whose critical case is open: the case becomes
    urgent and climbs the minutes-scale `ladder` from its first step, in a new round."""
    escalation.kind = CaseKind.URGENT
    escalation.red_flag = escalation.red_flag or urgent.red_flag
    escalation.text = urgent.text
    escalation.params = {**case_params(session, urgent), "code": escalation.code}
    event(session, escalation, EventKind.MERGED, now, detail=f"{urgent.code}: {urgent.text}"[:500])
    result = climb.retargeted(CaseRow.of(escalation), ladder, now, detail="made_urgent")
    escalation.ladder = ladder.as_json()
    notices = _apply(session, escalation, result)
    return Opened(escalation=escalation, ladder=ladder, merged=True, notices=notices)


def open_escalation(
    session: Session,
    urgent: UrgentReport,
    now: datetime,
    *,
    policy: EscalationPolicy,
    can_receive: CanReceive,
) -> Opened:
    """Open the escalation of `urgent`, or merge it into the open one of the same member."""
    if urgent.patient_id is not None:
        existing = open_for_patient(session, urgent.patient_id)
        if existing is not None:
            return _merge(session, existing, urgent, now, policy=policy, can_receive=can_receive)
    facility_id = None
    if urgent.grid_id is None and urgent.patient_id is not None:
        patient = session.get(Patient, urgent.patient_id)
        facility_id = patient.facility_id if patient else None
    ladder = ladder_for(
        session,
        grid_id=urgent.grid_id,
        facility_id=facility_id,
        policy=policy,
        can_receive=can_receive,
        red_flag=urgent.red_flag,
        kind=urgent.kind,
    )
    escalation = Escalation(
        code=urgent.code,
        state=EscalationState.OPEN,
        kind=urgent.kind,
        grid_id=urgent.grid_id,
        patient_id=urgent.patient_id,
        reporter_id=urgent.reporter_id,
        seat=urgent.seat,
        text=urgent.text,
        red_flag=urgent.red_flag,
        params=case_params(session, urgent),
        ladder=ladder.as_json(),
        step=0,
        round=1,
        step_started_at=now,
        next_step_at=None,
        called=False,
        duty_alerted_round=0,
        deliveries={},
        opened_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(escalation)
    except IntegrityError:
        # Another report about the same member opened one at the same moment: join it.
        existing = open_for_patient(session, urgent.patient_id or 0)
        if existing is None:
            raise
        return _merge(session, existing, urgent, now, policy=policy, can_receive=can_receive)
    urgent.escalation_id = escalation.id
    notices = _apply(session, escalation, climb.opened(CaseRow.of(escalation), ladder, now))
    return Opened(escalation=escalation, ladder=ladder, notices=notices)


def retarget(
    session: Session,
    escalation: Escalation,
    now: datetime,
    *,
    policy: EscalationPolicy,
    can_receive: CanReceive | None = None,
) -> list[Notice]:
    """The case's grid has a new doctor: the case climbs the grid's new ladder from its
    first step, in a new round (new message keys), and the new doctor is told at once."""
    ladder = ladder_for(
        session,
        grid_id=escalation.grid_id,
        facility_id=None,
        policy=policy,
        can_receive=can_receive or (lambda _phone: True),
        red_flag=False,
        kind=escalation.kind,
    )
    result = climb.retargeted(CaseRow.of(escalation), ladder, now)
    escalation.ladder = ladder.as_json()
    escalation.token += 1
    return _apply(session, escalation, result)


def notified_phones(
    session: Session, escalation_id: int, *, channel: str | None = None
) -> list[str]:
    """Everyone told of the case so far (by `channel` only, when given), in order."""
    query = (
        select(EscalationEvent.recipient)
        .where(
            EscalationEvent.escalation_id == escalation_id,
            EscalationEvent.kind.in_((EventKind.NOTIFIED, EventKind.CALLED)),
            EscalationEvent.recipient.is_not(None),
        )
        .order_by(EscalationEvent.id)
    )
    if channel is not None:
        query = query.where(EscalationEvent.channel == channel)
    phones = session.scalars(query)
    return list(dict.fromkeys(phone for phone in phones if phone))


def summary_of(escalation: Escalation) -> dict[str, Any]:
    return {"code": escalation.code, "state": escalation.state, "step": escalation.step}
