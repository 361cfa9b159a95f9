"""Acknowledging an escalation: by SMS (`收到 K7Q`, or the code anywhere in a doctor's
message) or by 1 pressed on an escalation call."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy.orm import Session

from config.settings import Settings
from grids.escalation.acknowledgement import (
    Acknowledger,
    AckOutcome,
    AckRefused,
    acknowledge,
    acknowledger,
    open_codes_for,
)
from grids.reports.senders import identify_sender
from notifications import outbox
from notifications.escalation.tick import stop_pending_calls
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import replies


def acknowledger_of(inbound: Inbound) -> Acknowledger:
    return acknowledger(
        inbound.session,
        inbound.sms.from_phone,
        doctor=inbound.sender.doctor,
        county_duty_phone=inbound.settings.county_duty_phone,
    )


def acknowledge_by_sms(inbound: Inbound, who: Acknowledger, code: str | None) -> Handled:
    session, settings, now = inbound.session, inbound.settings, inbound.now
    try:
        acked = acknowledge(
            session, who, code, now=now, channel="sms", language=settings.default_language
        )
    except AckRefused as refused:
        return Handled(
            Outcome.REJECTED,
            replies.ack_refused_reply(inbound.language, refused, settings.tz),
            command="ack",
        )
    if acked.escalation is not None:
        stop_pending_calls(session, acked.escalation.id, now)
    # `收到 SJQ NSX`: every other open case the message names is taken too, so none
    # climbs on while its doctor believes it answered.
    also: list[AckOutcome] = []
    for other in further_codes_named(session, who, inbound.sms.body, acked.urgent.code):
        try:
            taken = acknowledge(
                session, who, other, now=now, channel="sms", language=settings.default_language
            )
        except AckRefused:
            continue
        if taken.escalation is not None:
            stop_pending_calls(session, taken.escalation.id, now)
        also.append(taken)
    return Handled(
        Outcome.APPLIED,
        replies.ack_reply(inbound.language, acked, also=[each.urgent.code for each in also]),
        command="ack",
        notices=[*acked.notices, *(notice for each in also for notice in each.notices)],
    )


def further_codes_named(session: Session, who: Acknowledger, body: str, taken: str) -> list[str]:
    """The open codes `who` may acknowledge that `body` names besides `taken`."""
    words = _words(body) - {taken}
    if not any(len(word) == len(taken) for word in words):
        return []
    return [code for code in open_codes_for(session, who) if code in words]


def _words(body: str) -> set[str]:
    return set(re.findall(r"[A-Z0-9]+", unicodedata.normalize("NFKC", body).upper()))


def acknowledge_by_call(
    session: Session, settings: Settings, phone: str, code: str, now: datetime
) -> AckOutcome | AckRefused:
    """1 pressed on an escalation call from `phone`: the case `code` is taken."""
    sender = identify_sender(session, phone)
    who = acknowledger(
        session, phone, doctor=sender.doctor, county_duty_phone=settings.county_duty_phone
    )
    try:
        acked = acknowledge(
            session, who, code, now=now, channel="voice", language=settings.default_language
        )
    except AckRefused as refused:
        return refused
    if acked.escalation is not None:
        stop_pending_calls(session, acked.escalation.id, now)
    outbox.enqueue_many(session, acked.notices, now=now)
    return acked


def open_code_named(session: Session, who: Acknowledger, body: str) -> str | None:
    """The one open code `who` may acknowledge that `body` names as a word, if exactly one."""
    words = _words(body)
    if not words:
        return None
    named = [code for code in open_codes_for(session, who) if code in words]
    return named[0] if len(named) == 1 else None
