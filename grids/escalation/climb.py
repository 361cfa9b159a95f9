"""The climb: what an escalation does when it opens, merges, is retargeted or ticks.

Plain functions over a plain case (`CaseRow`) and its ladder copy: each returns a
`Climb`, the changed copy of the case with the `Notice`s to enqueue (SMS or calls)
and the timeline entries to store, and changes nothing it was given. Messages carry
keys from `keys.py` made of (escalation, step, round, recipient, channel), so a step
is notified exactly once however often it is run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

from grids.core.notices import Notice
from grids.escalation import keys
from grids.escalation.case import CaseRow, EscalationState, EventKind
from grids.escalation.critical import release_at
from grids.escalation.ladder import SMS, VOICE, Contact, Ladder, Step
from grids.escalation.timers import CALL, DELIVERED, ESCALATE, DeliveryFact, decide
from i18n import normalise_language, translate

FACILITY_NAME_LIMIT = 12
NAME_LIMIT = 8
ANSWERED = "answered"
"""The timeline's word for a call the callee picked up (a provider's `delivered`)."""

TimelineEntry = dict[str, Any]
"""One row of the case's timeline (the columns of `EscalationEvent`)."""


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Where(TypedDict, total=False):
    """Who or what a timeline entry is about; `contact` gives recipient and channel."""

    contact: Contact | None
    channel: str | None
    detail: str | None
    recipient: str | None


def entry(case: CaseRow, kind: str, now: datetime, **where: Unpack[Where]) -> TimelineEntry:
    """A timeline entry of `case` at its current step and round."""
    contact = where.get("contact")
    recipient = where.get("recipient")
    channel = where.get("channel")
    detail = where.get("detail")
    return {
        "escalation_id": case.id,
        "at": now,
        "kind": kind,
        "step": case.step,
        "round": case.round,
        "recipient": contact.phone if contact else recipient,
        "recipient_name": contact.name if contact else None,
        "channel": channel or (contact.channel if contact else None),
        "detail": detail,
    }


@dataclass
class Climb:
    """What a rule did: the case's new state, whether it moved (told someone or took a
    step), the messages to enqueue and the timeline entries to store."""

    case: CaseRow
    changed: bool = False
    notices: list[Notice] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)

    def note(self, kind: str, now: datetime, **where: Unpack[Where]) -> None:
        self.timeline.append(entry(self.case, kind, now, **where))


def _reason(ladder: Ladder, index: int, language: str, previous: Step | None) -> str:
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
    case: CaseRow, ladder: Ladder, index: int, channel: str | None = None
) -> list[tuple[Contact, Notice]]:
    """The messages of step `index` (this round), or its calls with `channel="voice"`."""
    step = ladder.steps[index]
    params = dict(case.params)
    member_known = case.patient_id is not None
    result: list[tuple[Contact, Notice]] = []
    for contact in step.contacts:
        language = normalise_language(contact.language)
        send_by = channel or contact.channel
        critical = ladder.kind == "critical"
        if send_by == VOICE:
            template = "voice.critical" if critical else "voice.urgent"
            extra = dict[str, str]()
        elif critical:
            template = "sms.critical.doctor" if step.level == "doctor" else "sms.critical.escalated"
            extra = {"facility": clip(step.facility_name, FACILITY_NAME_LIMIT)}
        elif step.level == "doctor":
            template = "sms.urgent.doctor" if member_known else "sms.urgent.doctor_unclear"
            extra = dict[str, str]()
        else:
            previous = ladder.steps[index - 1] if index > 0 else None
            extra = {
                "facility": clip(step.facility_name, FACILITY_NAME_LIMIT),
                "reason": _reason(ladder, index, language, previous),
            }
            if previous is None:
                template = "sms.urgent.duty_member" if member_known else "sms.urgent.duty_unclear"
            else:
                template = "sms.urgent.escalated"
        notice = Notice(
            key=keys.step_key(case.id, index, case.round, contact.phone, send_by),
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


def _held(notice: Notice, ladder: Ladder, now: datetime) -> Notice:
    """`notice`, waiting until morning when the ladder holds its messages at night."""
    if ladder.hold is None:
        return notice
    release = release_at(now, ladder.hold)
    return notice if release is None else replace(notice, not_before=release)


def _notify_step(climb: Climb, ladder: Ladder, now: datetime) -> None:
    for contact, notice in step_notices(climb.case, ladder, climb.case.step):
        climb.notices.append(_held(notice, ladder, now))
        climb.note(EventKind.NOTIFIED, now, contact=contact)


def _notify_parallel(climb: Climb, ladder: Ladder, now: datetime) -> None:
    case = climb.case
    for contact in ladder.parallel:
        climb.notices.append(
            Notice(
                key=keys.red_flag_key(case.id, contact.phone, contact.channel),
                phone=contact.phone,
                language=normalise_language(contact.language),
                template="sms.urgent.red_flag" if contact.channel == SMS else "voice.urgent",
                params=dict(case.params),
                urgent=True,
                recipient_type=contact.kind,
                recipient_id=contact.id,
                channel=contact.channel,
            )
        )
        climb.note(EventKind.NOTIFIED, now, contact=contact, detail="red_flag")


def _alert_county_duty(climb: Climb, ladder: Ladder, now: datetime) -> list[Notice]:
    """Tell the bureau's duty phone, once a round; returns the notice (not yet added)."""
    duty = ladder.county_duty
    case = climb.case
    if duty is None or case.duty_alerted_round >= case.round:
        return []
    case.duty_alerted_round = case.round
    climb.note(EventKind.NOTIFIED, now, contact=duty, detail="county_duty")
    template = "sms.critical.county_duty" if ladder.kind == "critical" else "sms.urgent.county_duty"
    notice = Notice(
        key=keys.duty_key(case.id, case.round, duty.phone),
        phone=duty.phone,
        language=normalise_language(duty.language),
        template=template,
        params=dict(case.params),
        urgent=True,
        recipient_type="county_duty",
        channel=SMS,
    )
    return [_held(notice, ladder, now)]


def opened(case: CaseRow, ladder: Ladder, now: datetime) -> Climb:
    """A case just opened on `ladder`: its first step is told (and the county hospital
    beside it for a red flag); with no step at all, the county duty phone is."""
    climb = Climb(replace(case), changed=True)
    climb.note(EventKind.OPENED, now, detail=",".join(ladder.problems) or None)
    if ladder.steps:
        _notify_step(climb, ladder, now)
        _notify_parallel(climb, ladder, now)
    else:
        climb.notices += _alert_county_duty(climb, ladder, now)
    return climb


def merged(
    case: CaseRow, ladder: Ladder, now: datetime, *, detail: str, new_red_flag: bool
) -> tuple[Climb, Ladder]:
    """Another report joined the open case. A red flag it brings (and the case did not
    have) tells the county hospital at once unless the case is already at the top.
    Returns the climb and the ladder as it now stands."""
    climb = Climb(replace(case), changed=True)
    climb.note(EventKind.MERGED, now, detail=detail[:500])
    if new_red_flag:
        county = next((step for step in ladder.steps if step.level == "county"), None)
        if county is not None and case.step < len(ladder.steps) - 1:
            ladder = replace(ladder, parallel=county.contacts)
            _notify_parallel(climb, ladder, now)
    return climb, ladder


def retargeted(
    case: CaseRow, ladder: Ladder, now: datetime, *, detail: str = "grid_reassigned"
) -> Climb:
    """The case's grid has a new doctor (or a critical case became urgent, `detail`
    `made_urgent`): the case climbs `ladder` from its first step, in a new round (new
    message keys), the first step is told at once, and the ladder's parallel contacts
    (the county hospital, for a red flag) too."""
    climb = Climb(
        replace(
            case,
            step=0,
            round=case.round + 1,
            step_started_at=now,
            next_step_at=None,
            called=False,
            updated_at=now,
        ),
        changed=True,
    )
    climb.note(EventKind.ESCALATED, now, detail=detail)
    if ladder.steps:
        _notify_step(climb, ladder, now)
        _notify_parallel(climb, ladder, now)
    else:
        climb.notices += _alert_county_duty(climb, ladder, now)
    return climb


def current_keys(case: CaseRow, ladder: Ladder) -> list[str]:
    """The outbox keys of the current step's messages (the keys `step_notices` gives
    them) and of the calls placed on it: what `advance` needs facts about. `ladder` is
    the case's own."""
    if not ladder.steps or case.state != EscalationState.OPEN:
        return []
    return _message_keys(case, ladder) + _call_keys(case, ladder)


def _message_keys(case: CaseRow, ladder: Ladder) -> list[str]:
    return [
        keys.step_key(case.id, case.step, case.round, contact.phone, contact.channel)
        for contact in ladder.steps[case.step].contacts
    ]


def _call_keys(case: CaseRow, ladder: Ladder) -> list[str]:
    """The calls `advance` placed on the current step (to those it texted), if it did."""
    if not case.called:
        return []
    return [
        keys.step_key(case.id, case.step, case.round, contact.phone, VOICE)
        for contact in ladder.steps[case.step].contacts
        if contact.channel == SMS
    ]


def _record_deliveries(climb: Climb, facts: Iterable[DeliveryFact], now: datetime) -> None:
    case = climb.case
    seen = dict(case.deliveries or {})
    for fact in facts:
        outcome = "delivered" if fact.delivered else "failed" if fact.failed else None
        if outcome is None or seen.get(fact.key) == outcome:
            continue
        seen[fact.key] = outcome
        parsed = keys.parse(fact.key)
        kind = EventKind.DELIVERED if outcome == "delivered" else EventKind.FAILED
        detail = f"{fact.status} {fact.error_code}" if fact.error_code else fact.status
        channel = parsed.channel if parsed else None
        if channel == VOICE and fact.status == DELIVERED:
            detail = ANSWERED
        climb.note(
            kind,
            now,
            recipient=parsed.recipient if parsed else None,
            channel=channel,
            detail=detail,
        )
    if seen != (case.deliveries or {}):
        case.deliveries = seen


def advance(
    case: CaseRow, facts: Mapping[str, DeliveryFact], now: datetime, *, ladder: Ladder
) -> Climb:
    """Take at most one step of an open case, given what the outbox knows of the current
    step's messages (`facts`, by key; a key missing means not queued). `ladder` is the
    case's own, already read from its JSON copy."""
    climb = Climb(replace(case))
    case = climb.case
    if case.state != EscalationState.OPEN:
        return climb
    if not ladder.steps:
        climb.notices += _alert_county_duty(climb, ladder, now)
        climb.changed = bool(climb.notices)
        return climb
    step = ladder.steps[case.step]
    step_facts = [facts[key] for key in _message_keys(case, ladder) if key in facts]
    # Only calls whose provider reports their result say anything (Twilio's do not).
    call_facts = [
        facts[key]
        for key in _call_keys(case, ladder)
        if key in facts and facts[key].reports_delivery
    ]
    _record_deliveries(climb, [*step_facts, *call_facts], now)
    decision = decide(step, step_facts, now, called=case.called, calls=call_facts)
    if decision.action == CALL:
        for contact, notice in step_notices(case, ladder, case.step, VOICE):
            if contact.channel != SMS:
                continue
            climb.notices.append(notice)
            climb.note(EventKind.CALLED, now, contact=contact, channel=VOICE)
        case.called = True
        case.next_step_at = decision.deadline
        climb.changed = True
        return climb
    if decision.action != ESCALATE:
        if case.next_step_at != decision.deadline:
            case.next_step_at = decision.deadline
        return climb
    if case.step >= ladder.top:
        notices = _alert_county_duty(climb, ladder, now)
        round_over = now >= case.step_started_at + timedelta(minutes=step.timeout_minutes)
        if decision.reason != "timeout" and not round_over:
            climb.notices += notices
            climb.changed = bool(notices)
            return climb
        climb.note(EventKind.ESCALATED, now, detail=decision.reason)
        case.round += 1
        climb.notices += notices
    else:
        climb.note(EventKind.ESCALATED, now, detail=decision.reason)
        case.step += 1
    case.step_started_at = now
    case.next_step_at = None
    case.called = False
    case.updated_at = now
    _notify_step(climb, ladder, now)
    climb.changed = True
    return climb
