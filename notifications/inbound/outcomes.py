"""Closing a case with its outcome (`结 K7Q 转诊`) and recording a referral follow-up
(`复 K7Q 好转`) by SMS: whoever may acknowledge the case may do either."""

from __future__ import annotations

from grids import audit
from grids.escalation.outcomes import OutcomeRefused, close_case, record_followup
from i18n import normalise_language
from notifications.escalation.tick import stop_pending_calls
from notifications.inbound.acknowledgements import acknowledger_of
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import replies
from notifications.sms.commands import CloseCaseCommand, FollowupCommand


def _actor(inbound: Inbound) -> str:
    sender = inbound.sender
    if sender.doctor is not None:
        return audit.actor("sms", "doctor", sender.doctor.code)
    return audit.actor("sms", "phone", inbound.sms.from_phone[-4:])


def close_by_sms(inbound: Inbound, command: CloseCaseCommand) -> Handled:
    who = acknowledger_of(inbound)
    language = inbound.language
    try:
        closed = close_case(
            inbound.session,
            command.code,
            outcome=command.outcome,
            reason=None,
            actor=_actor(inbound),
            closed_by=who.name(normalise_language(inbound.settings.default_language)),
            now=inbound.now,
            tz=inbound.settings.tz,
            who=who,
        )
    except OutcomeRefused as refused:
        return Handled(Outcome.REJECTED, replies.outcome_refused(language, refused), "close")
    if closed.was_open:
        stop_pending_calls(inbound.session, closed.escalation.id, inbound.now)
    return Handled(Outcome.APPLIED, replies.closed_reply(language, closed.escalation), "close")


def followup_by_sms(inbound: Inbound, command: FollowupCommand) -> Handled:
    who = acknowledger_of(inbound)
    language = inbound.language
    try:
        case = record_followup(
            inbound.session,
            command.code,
            result=command.result,
            actor=_actor(inbound),
            by=who.name(normalise_language(inbound.settings.default_language)),
            now=inbound.now,
            tz=inbound.settings.tz,
            who=who,
        )
    except OutcomeRefused as refused:
        return Handled(Outcome.REJECTED, replies.outcome_refused(language, refused), "followup")
    return Handled(Outcome.APPLIED, replies.followup_reply(language, case), "followup")
