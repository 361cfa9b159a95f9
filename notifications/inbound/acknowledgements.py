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
    return Handled(
        Outcome.APPLIED,
        replies.ack_reply(inbound.language, acked),
        command="ack",
        notices=acked.notices,
    )


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
    words = set(re.findall(r"[A-Z0-9]+", unicodedata.normalize("NFKC", body).upper()))
    if not words:
        return None
    named = [code for code in open_codes_for(session, who) if code in words]
    return named[0] if len(named) == 1 else None
