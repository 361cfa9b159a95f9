"""Closing a case with its outcome (`结 K7Q 转诊`) and recording a referral follow-up
(`复 K7Q 好转`) by SMS: whoever may acknowledge the case may do either."""

from __future__ import annotations

from grids import audit
from grids.escalation.outcomes import FollowedUp, OutcomeRefused, close_case, record_followup
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


def _result(language: str, result: str | None) -> str:
    return replies.text(language, f"case.followup.{result}")


def followup_recorded(language: str, followed: FollowedUp) -> str:
    """`已记录K7Q转诊随访：好转。`, or `已更新…：死亡（原为好转）。` when it replaces one."""
    case = followed.escalation
    if followed.previous is None:
        return replies.followup_reply(language, case)
    return replies.first_fitting(
        [
            replies.text(
                language,
                "sms.reply.case.followup_changed",
                code=case.code,
                result=_result(language, case.followup_outcome),
                previous=_result(language, followed.previous),
            )
        ]
    )


def followup_refused(language: str, refused: OutcomeRefused, result: str) -> str:
    """Why a `复` was not applied; a repeat says what was recorded before."""
    case = refused.escalation
    if case is None or refused.reason not in ("already_followed_up", "followup_after_death"):
        return replies.outcome_refused(language, refused)
    key = (
        "sms.reply.case.followup_repeated"
        if refused.reason == "already_followed_up"
        else "sms.reply.case.followup_after_death"
    )
    return replies.first_fitting(
        [
            replies.text(
                language,
                key,
                code=case.code,
                result=_result(language, case.followup_outcome),
                requested=_result(language, result),
            )
        ]
    )


def followup_by_sms(inbound: Inbound, command: FollowupCommand) -> Handled:
    who = acknowledger_of(inbound)
    language = inbound.language
    try:
        followed = record_followup(
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
        reply = followup_refused(language, refused, command.result)
        return Handled(Outcome.REJECTED, reply, "followup")
    return Handled(Outcome.APPLIED, followup_recorded(language, followed), "followup")
