"""An urgent message (`急 5 胸痛`, or a red flag in a report): the escalation opens,
and a report the message carried is kept too."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from config.logging import mask_phone
from grids.core.notices import Notice
from grids.escalation.policy import policy_of
from grids.escalation.urgent import UrgentOutcome, report_urgent
from grids.reports.errors import ReportRefused
from grids.reports.weekly import ReportOutcome
from notifications import contacts
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.inbound.reports import open_critical_cases, record_report
from notifications.sms import grammar, replies
from notifications.sms.commands import UrgentCommand

log = logging.getLogger(__name__)


def urgent(inbound: Inbound, command: UrgentCommand) -> Handled:
    session, settings, sms, now = inbound.session, inbound.settings, inbound.sms, inbound.now
    sender, language = inbound.sender, inbound.language
    assert sender.patient is not None
    notices: list[Notice] = []
    report_fate: str | None = None
    carried: ReportOutcome | None = None
    if sender.role == "coordinator" and sender.roster:
        if command.report is not None:
            # `好 5 胸闷`: the report is kept too; a refused one must not hold up the
            # alert, and the coordinator is told it was not recorded.
            try:
                with session.begin_nested():
                    carried = record_report(inbound, command.report)
                notices += carried.notices
                report_fate = "recorded"
            except ReportRefused as refused:
                log.info(
                    "report carried by urgent SMS %s not applied: %s", sms.message_sid, refused
                )
                report_fate = "not_recorded"
        elif command.report_error is not None:
            too_long = command.report_error.code == grammar.TOO_LONG
            report_fate = "too_long" if too_long else "not_recorded"
    reporter, can_receive, policy = sender.patient, can_receive_sms(session), policy_of(settings)

    def report(seat: int | None, text: str, red_flag: bool) -> UrgentOutcome:
        return report_urgent(
            session,
            reporter=reporter,
            roster=sender.roster,
            seat=seat,
            text=text,
            red_flag=red_flag,
            now=now,
            source_ref=sms.message_sid,
            default_language=settings.default_language,
            can_receive=can_receive,
            policy=policy,
        )

    outcome = report(command.seat, command.text or sms.body, command.red_flag)
    # Only a coordinator speaks for other members by seat: each one named urgently is a
    # case of their own, so the doctor hears of every one.
    others = (
        [report(member.seat, member.text, True) for member in command.others]
        if sender.role == "coordinator" and sender.roster
        else []
    )
    if carried is not None:
        # A critical reading in the carried report joins the urgent case of its member
        # (or opens its own for another member): the red flag keeps the case urgent.
        notices += open_critical_cases(inbound, carried).notices
    for each in (outcome, *others):
        if each.notified == "nobody":
            log.error(
                "urgent report %s (grid %s) reached nobody: no doctor and no duty phone",
                each.urgent.code,
                sender.roster.grid.code if sender.roster else "-",
            )
    return Handled(
        Outcome.APPLIED,
        replies.urgent_reply(language, outcome, command.text, report=report_fate, others=others),
        notices=[*outcome.notices, *(n for other in others for n in other.notices), *notices],
    )


def from_unknown_sender(inbound: Inbound) -> Handled:
    """Nobody to alert for a number we do not know: always say so and point to 120,
    however many times today this number has written."""
    log.warning("urgent SMS from unregistered number %s", mask_phone(inbound.sms.from_phone))
    return Handled(
        Outcome.UNKNOWN_SENDER,
        replies.simple(inbound.language, "sms.reply.unknown_sender_urgent"),
    )


def can_receive_sms(session: Session) -> Callable[[str], bool]:
    """Whether a number can get SMS: not opted out, not flagged invalid by the provider
    (the dispatcher would suppress anything sent to it)."""

    def can_receive(phone: str) -> bool:
        return phone not in contacts.unreachable_numbers(session, [phone])

    return can_receive
