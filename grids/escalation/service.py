"""Opening an escalation for an urgent report and taking it up its ladder.

The ladder is built from the cached hierarchy and copied onto the escalation. Each
service returns `Notice`s (SMS or calls) and sends nothing itself: the caller
enqueues them in the same transaction, under keys made of (escalation, step, round,
recipient, channel), so a step is notified exactly once however often it is run.
Every change is also an `EscalationEvent` on the case's timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grids.core.limits import URGENT_FORWARD_CHARS
from grids.core.notices import Notice
from grids.escalation.case import Case
from grids.escalation.hierarchy import HierarchyError
from grids.escalation.ladder import (
    SMS,
    VOICE,
    Contact,
    Ladder,
    Step,
    build_ladder,
    notice_key,
    step_keys,
)
from grids.escalation.models import Escalation, EscalationEvent, EscalationState, EventKind
from grids.escalation.roster_graph import current_hierarchy
from grids.escalation.timers import CALL, DELIVERED, ESCALATE, DeliveryFact, decide
from grids.models import Grid, Patient, UrgentReport
from i18n import normalise_language, translate

Timeline = Session | list[dict[str, Any]]
"""Where timeline entries go: a session (as `EscalationEvent` rows) or a list of plain
rows (the tick inserts a whole batch's entries in one statement)."""
FACILITY_NAME_LIMIT = 12
NAME_LIMIT = 8
ANSWERED = "answered"
"""The timeline's word for a call the callee picked up (a provider's `delivered`)."""

CanReceive = Callable[[str], bool]


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class EscalationPolicy:
    """What a county configures: timeouts per level and the bureau's duty phone."""

    timeouts: Mapping[str, int] = field(
        default_factory=lambda: {"doctor": 10, "clinic": 10, "township": 15, "county": 15}
    )
    county_duty_phone: str | None = None
    default_language: str = "zh_CN"


@dataclass
class Opened:
    escalation: Escalation
    ladder: Ladder
    merged: bool = False
    notices: list[Notice] = field(default_factory=list)

    @property
    def first_step(self) -> Step | None:
        return self.ladder.steps[0] if self.ladder.steps and not self.merged else None


def event(
    timeline: Timeline,
    escalation: Case,
    kind: str,
    now: datetime,
    *,
    contact: Contact | None = None,
    channel: str | None = None,
    detail: str | None = None,
    recipient: str | None = None,
    step: int | None = None,
) -> None:
    """Add an entry to the case's timeline."""
    values = {
        "escalation_id": escalation.id,
        "at": now,
        "kind": kind,
        "step": escalation.step if step is None else step,
        "round": escalation.round,
        "recipient": contact.phone if contact else recipient,
        "recipient_name": contact.name if contact else None,
        "channel": channel or (contact.channel if contact else None),
        "detail": detail,
    }
    if isinstance(timeline, list):
        timeline.append(values)
    else:
        timeline.add(EscalationEvent(**values))


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
) -> Ladder:
    """The ladder of a grid (or, for a patient in no grid, of their facility)."""
    hierarchy = current_hierarchy(session)
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


def _reason(ladder: Ladder, step: Step, index: int, language: str, previous: Step | None) -> str:
    if index == 0 or previous is None:
        if ladder.doctor_unreachable:
            return translate(
                "sms.urgent.reason.doctor_unreachable",
                language,
                doctor=clip(ladder.doctor_unreachable, NAME_LIMIT),
            )
        return translate("sms.urgent.reason.no_doctor", language)
    return translate(
        "sms.urgent.reason.not_acknowledged", language, minutes=previous.timeout_minutes
    )


def step_notices(
    escalation: Case, ladder: Ladder, index: int, channel: str | None = None
) -> list[tuple[Contact, Notice]]:
    """The messages of step `index` (this round), or its calls with `channel="voice"`."""
    step = ladder.steps[index]
    params = dict(escalation.params)
    member_known = escalation.patient_id is not None
    result: list[tuple[Contact, Notice]] = []
    for contact in step.contacts:
        language = normalise_language(contact.language)
        send_by = channel or contact.channel
        if send_by == VOICE:
            template, extra = "voice.urgent", dict[str, str]()
        elif step.level == "doctor":
            template = "sms.urgent.doctor" if member_known else "sms.urgent.doctor_unclear"
            extra = dict[str, str]()
        else:
            previous = ladder.steps[index - 1] if index > 0 else None
            extra = {
                "facility": clip(step.facility_name, FACILITY_NAME_LIMIT),
                "reason": _reason(ladder, step, index, language, previous),
            }
            if previous is None:
                template = "sms.urgent.duty_member" if member_known else "sms.urgent.duty_unclear"
            else:
                template = "sms.urgent.escalated"
        notice = Notice(
            key=notice_key(escalation.id, index, escalation.round, contact.phone, send_by),
            phone=contact.phone,
            language=language,
            template=template,
            params={**params, **extra},
            urgent=True,
            recipient_type=contact.kind if contact.kind != "county_duty" else "facility",
            recipient_id=contact.id,
            channel=send_by,
        )
        result.append((contact, notice))
    return result


def _notify_step(
    timeline: Timeline, escalation: Case, ladder: Ladder, now: datetime
) -> list[Notice]:
    notices = []
    for contact, notice in step_notices(escalation, ladder, escalation.step):
        notices.append(notice)
        event(timeline, escalation, EventKind.NOTIFIED, now, contact=contact)
    return notices


def _notify_parallel(
    timeline: Timeline, escalation: Case, ladder: Ladder, now: datetime
) -> list[Notice]:
    notices = []
    for contact in ladder.parallel:
        notices.append(
            Notice(
                key=notice_key(escalation.id, "red", 1, contact.phone, contact.channel),
                phone=contact.phone,
                language=normalise_language(contact.language),
                template="sms.urgent.red_flag" if contact.channel == SMS else "voice.urgent",
                params=dict(escalation.params),
                urgent=True,
                recipient_type=contact.kind,
                recipient_id=contact.id,
                channel=contact.channel,
            )
        )
        event(timeline, escalation, EventKind.NOTIFIED, now, contact=contact, detail="red_flag")
    return notices


def _alert_county_duty(
    timeline: Timeline, escalation: Case, ladder: Ladder, now: datetime
) -> list[Notice]:
    duty = ladder.county_duty
    if duty is None or escalation.duty_alerted_round >= escalation.round:
        return []
    escalation.duty_alerted_round = escalation.round
    event(timeline, escalation, EventKind.NOTIFIED, now, contact=duty, detail="county_duty")
    return [
        Notice(
            key=notice_key(escalation.id, "duty", escalation.round, duty.phone, SMS),
            phone=duty.phone,
            language=normalise_language(duty.language),
            template="sms.urgent.county_duty",
            params=dict(escalation.params),
            urgent=True,
            recipient_type="county_duty",
            channel=SMS,
        )
    ]


def open_for_patient(session: Session, patient_id: int, *, lock: bool = True) -> Escalation | None:
    query = select(Escalation).where(
        Escalation.patient_id == patient_id, Escalation.state == EscalationState.OPEN
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _merge(session: Session, escalation: Escalation, urgent: UrgentReport, now: datetime) -> Opened:
    urgent.escalation_id = escalation.id
    ladder = Ladder.from_json(escalation.ladder)
    event(session, escalation, EventKind.MERGED, now, detail=f"{urgent.code}: {urgent.text}"[:500])
    notices: list[Notice] = []
    if urgent.red_flag and not escalation.red_flag:
        escalation.red_flag = True
        county = next((step for step in ladder.steps if step.level == "county"), None)
        if county is not None and escalation.step < len(ladder.steps) - 1:
            ladder = replace(ladder, parallel=county.contacts)
            notices += _notify_parallel(session, escalation, ladder, now)
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
            return _merge(session, existing, urgent, now)
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
    )
    escalation = Escalation(
        code=urgent.code,
        state=EscalationState.OPEN,
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
        return _merge(session, existing, urgent, now)
    urgent.escalation_id = escalation.id
    event(session, escalation, EventKind.OPENED, now, detail=",".join(ladder.problems) or None)
    notices: list[Notice] = []
    if ladder.steps:
        notices += _notify_step(session, escalation, ladder, now)
        notices += _notify_parallel(session, escalation, ladder, now)
    else:
        notices += _alert_county_duty(session, escalation, ladder, now)
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
    )
    escalation.ladder = ladder.as_json()
    escalation.step = 0
    escalation.round += 1
    escalation.step_started_at = now
    escalation.next_step_at = None
    escalation.token += 1
    escalation.called = False
    escalation.updated_at = now
    event(session, escalation, EventKind.ESCALATED, now, detail="grid_reassigned")
    if ladder.steps:
        return _notify_step(session, escalation, ladder, now)
    return _alert_county_duty(session, escalation, ladder, now)


# --- the timers ---


def current_keys(escalation: Case, ladder: Ladder) -> list[str]:
    """The outbox keys of the current step's messages (the keys `step_notices` gives
    them) and of the calls placed on it: what `advance` needs facts about. `ladder` is
    the escalation's own."""
    if not ladder.steps or escalation.state != EscalationState.OPEN:
        return []
    return _message_keys(escalation, ladder) + _call_keys(escalation, ladder)


def _message_keys(escalation: Case, ladder: Ladder) -> list[str]:
    contacts = ladder.steps[escalation.step].contacts
    return step_keys(escalation.id, escalation.step, escalation.round, contacts)


def _call_keys(escalation: Case, ladder: Ladder) -> list[str]:
    """The calls `advance` placed on the current step (to those it texted), if it did."""
    if not escalation.called:
        return []
    return [
        notice_key(escalation.id, escalation.step, escalation.round, contact.phone, VOICE)
        for contact in ladder.steps[escalation.step].contacts
        if contact.channel == SMS
    ]


@dataclass
class Advanced:
    changed: bool = False
    notices: list[Notice] = field(default_factory=list)


def _record_deliveries(
    timeline: Timeline, escalation: Case, facts: Iterable[DeliveryFact], now: datetime
) -> None:
    seen = dict(escalation.deliveries or {})
    for fact in facts:
        outcome = "delivered" if fact.delivered else "failed" if fact.failed else None
        if outcome is None or seen.get(fact.key) == outcome:
            continue
        seen[fact.key] = outcome
        parts = fact.key.split(":")
        recipient = parts[4] if len(parts) > 5 else None
        channel = parts[-1] if len(parts) > 5 else None
        kind = EventKind.DELIVERED if outcome == "delivered" else EventKind.FAILED
        detail = f"{fact.status} {fact.error_code}" if fact.error_code else fact.status
        if channel == VOICE and fact.status == DELIVERED:
            detail = ANSWERED
        event(timeline, escalation, kind, now, recipient=recipient, channel=channel, detail=detail)
    if seen != (escalation.deliveries or {}):
        escalation.deliveries = seen


def advance(
    timeline: Timeline,
    escalation: Case,
    facts: Mapping[str, DeliveryFact],
    now: datetime,
    *,
    ladder: Ladder,
) -> Advanced:
    """Take at most one step of an open escalation, given what the outbox knows of the
    current step's messages (`facts`, by key; a key missing means not queued). `ladder`
    is the escalation's own, already read from its JSON copy; timeline entries go to
    `timeline`."""
    result = Advanced()
    if escalation.state != EscalationState.OPEN:
        return result
    if not ladder.steps:
        result.notices += _alert_county_duty(timeline, escalation, ladder, now)
        result.changed = bool(result.notices)
        return result
    step = ladder.steps[escalation.step]
    step_facts = [facts[key] for key in _message_keys(escalation, ladder) if key in facts]
    # Only calls whose provider reports their result say anything (Twilio's do not).
    call_facts = [
        facts[key]
        for key in _call_keys(escalation, ladder)
        if key in facts and facts[key].reports_delivery
    ]
    _record_deliveries(timeline, escalation, [*step_facts, *call_facts], now)
    decision = decide(step, step_facts, now, called=escalation.called, calls=call_facts)
    if decision.action == CALL:
        for contact, notice in step_notices(escalation, ladder, escalation.step, VOICE):
            if contact.channel != SMS:
                continue
            result.notices.append(notice)
            event(timeline, escalation, EventKind.CALLED, now, contact=contact, channel=VOICE)
        escalation.called = True
        escalation.next_step_at = decision.deadline
        result.changed = True
        return result
    if decision.action != ESCALATE:
        if escalation.next_step_at != decision.deadline:
            escalation.next_step_at = decision.deadline
        return result
    at_top = escalation.step >= ladder.top
    if at_top:
        notices = _alert_county_duty(timeline, escalation, ladder, now)
        round_over = now >= escalation.step_started_at + timedelta(minutes=step.timeout_minutes)
        if decision.reason != "timeout" and not round_over:
            result.notices += notices
            result.changed = bool(notices)
            return result
        event(timeline, escalation, EventKind.ESCALATED, now, detail=decision.reason)
        escalation.round += 1
        result.notices += notices
    else:
        event(timeline, escalation, EventKind.ESCALATED, now, detail=decision.reason)
        escalation.step += 1
    escalation.step_started_at = now
    escalation.next_step_at = None
    escalation.called = False
    escalation.updated_at = now
    result.notices += _notify_step(timeline, escalation, ladder, now)
    result.changed = True
    return result


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
