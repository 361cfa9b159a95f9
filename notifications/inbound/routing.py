"""Deciding what a message does: by the sender's role (coordinator, member, doctor,
unknown number) and the command the grammar read, to one command family's handler."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.logging import mask_phone
from config.settings import Settings
from grids.reports.errors import (
    ExchangeTimeRefused,
    HeadcountTooLarge,
    ImplausibleReading,
    ReportRefused,
    UnknownSeats,
)
from grids.reports.senders import Sender, identify_sender
from i18n import normalise_language, translate
from notifications.inbound import acknowledgements, exchanges, outcomes, subscriptions
from notifications.inbound.attendance import attendance
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.inbound.message import IncomingSms
from notifications.inbound.reports import weekly_report
from notifications.inbound.urgent import from_unknown_sender, urgent
from notifications.models import SmsContact
from notifications.sms import confirm, exchange_replies, grammar, replies
from notifications.sms.case_commands import CASE_CODE, CASE_WORD
from notifications.sms.commands import (
    AckCommand,
    AttendanceCommand,
    CloseCaseCommand,
    Command,
    FollowupCommand,
    HelpCommand,
    MoveExchangeCommand,
    OptInCommand,
    OptOutCommand,
    Parsed,
    SkipExchangeCommand,
    UrgentCommand,
    WeeklyReportCommand,
)

log = logging.getLogger(__name__)

COMMAND_NAMES: dict[type, str] = {
    WeeklyReportCommand: "report",
    UrgentCommand: "urgent",
    AttendanceCommand: "attendance",
    AckCommand: "ack",
    HelpCommand: "help",
    OptOutCommand: "opt_out",
    OptInCommand: "opt_in",
    MoveExchangeCommand: "move",
    SkipExchangeCommand: "skip",
    CloseCaseCommand: "close",
    FollowupCommand: "followup",
}


def handle(
    session: Session,
    settings: Settings,
    sms: IncomingSms,
    now: datetime,
    sender: Sender | None = None,
) -> Handled:
    """Apply `sms`, stored already; returns the outcome, reply and notices (nothing
    committed). `sender`: who sent it, when already found."""
    if sender is None:
        sender = identify_sender(session, sms.from_phone)
    parsed: Parsed = grammar.parse(sms.body)
    language = parsed.language
    code = getattr(parsed.command, "code", None)
    if language == "en" and sender.language and grammar.keywords_only(sms.body, code):
        # `OK 5 BP150/95` from a Chinese volunteer: answer in the language they read.
        language = sender.language
    language = normalise_language(language or sender.language or settings.default_language)
    command = parsed.command
    handled = _dispatch(Inbound(session, settings, sms, now, sender, parsed, language))
    if sender.deputy and sender.roster is not None and handled.reply:
        # A deputy may stand in for another grid than a coordinator would: say which.
        handled.reply = (
            translate("sms.reply.deputy_grid", language, grid=sender.roster.grid.code)
            + handled.reply
        )
    handled.language = language
    handled.sender_type = sender.role
    handled.sender_id = sender.person_id
    if handled.command is None and command is not None:
        handled.command = COMMAND_NAMES.get(type(command))
    return handled


def _dispatch(inbound: Inbound) -> Handled:
    sender, parsed, language = inbound.sender, inbound.parsed, inbound.language
    command = parsed.command
    if isinstance(command, OptOutCommand):
        return subscriptions.opt_out(inbound, command)
    if isinstance(command, OptInCommand):
        return subscriptions.opt_in(inbound)
    if isinstance(command, CloseCaseCommand):
        return outcomes.close_by_sms(inbound, command)
    if isinstance(command, FollowupCommand):
        return outcomes.followup_by_sms(inbound, command)
    if sender.role == "unknown":
        if isinstance(command, AckCommand):
            # A facility's duty phone, the county bureau, or a stranger: the ladder decides.
            who = acknowledgements.acknowledger_of(inbound)
            return acknowledgements.acknowledge_by_sms(inbound, who, command.code)
        if isinstance(command, UrgentCommand):
            return from_unknown_sender(inbound)
        key = "sms.help.unknown" if isinstance(command, HelpCommand) else "sms.reply.unknown_sender"
        return _unknown_sender(inbound, key)
    if isinstance(command, HelpCommand):
        return Handled(Outcome.HELP, replies.help_reply(language, sender.role))
    if sender.role == "member" and sender.roster and confirm.is_confirmation(inbound.sms.body):
        return exchanges.member_confirmation(inbound)
    if sender.role == "doctor":
        return _from_doctor(inbound)
    if command is None:
        if sender.role == "coordinator" and parsed.error is not None:
            return Handled(
                Outcome.REJECTED,
                replies.first_fitting([grammar.error_text(parsed.error, language)]),
                command="not_understood",
            )
        return _member_hint(sender, language, Outcome.HINT)
    if isinstance(command, UrgentCommand):
        return urgent(inbound, command)
    if sender.role != "coordinator":
        return _member_hint(sender, language, Outcome.HINT)
    assert sender.roster is not None and sender.patient is not None
    try:
        return _from_coordinator(inbound, command)
    except ReportRefused as refused:
        return Handled(Outcome.REJECTED, _correction(inbound, refused, command))


# --- members and unknown numbers ---


def _member_hint(sender: Sender, language: str, outcome: str) -> Handled:
    if sender.roster is None:
        return Handled(outcome, replies.simple(language, "sms.reply.no_grid"))
    if sender.role == "coordinator":
        return Handled(outcome, replies.help_reply(language, "coordinator"))
    coordinator = sender.roster.grid.coordinator
    return Handled(
        outcome, replies.member_hint(language, coordinator.name if coordinator else None)
    )


def _unknown_sender(inbound: Inbound, key: str) -> Handled:
    """One polite reply per number and day, so an auto-responder loop ends."""
    session, sms, now, language = inbound.session, inbound.sms, inbound.now, inbound.language
    log.info("inbound SMS from unregistered number %s", mask_phone(sms.from_phone))
    phone = sms.from_phone[:32] or "-"
    contact = session.scalar(select(SmsContact).where(SmsContact.phone == phone).with_for_update())
    if contact is None:
        try:
            with session.begin_nested():
                contact = SmsContact(phone=phone, updated_at=now)
                session.add(contact)
        except IntegrityError:
            contact = session.get(SmsContact, phone)
    assert contact is not None
    tz = inbound.settings.tz
    last = contact.unknown_sender_replied_at
    if last is not None and last.astimezone(tz).date() == now.astimezone(tz).date():
        return Handled(Outcome.UNKNOWN_SENDER_SILENT, None)
    contact.unknown_sender_replied_at = now
    return Handled(Outcome.UNKNOWN_SENDER, replies.simple(language, key))


# --- doctors ---


def _from_doctor(inbound: Inbound) -> Handled:
    sender, language = inbound.sender, inbound.language
    assert sender.doctor is not None
    parsed = inbound.parsed
    command = parsed.command
    who = acknowledgements.acknowledger_of(inbound)
    if not isinstance(command, AckCommand) or command.code is None:
        # Doctors send no reports: one of their open codes anywhere (`K7Q 收到`,
        # `已处理 K7Q`) answers that alert.
        code = acknowledgements.open_code_named(inbound.session, who, inbound.sms.body)
        if code is not None:
            command = AckCommand(code)
    if not isinstance(command, AckCommand):
        error = parsed.error
        if error is not None and error.code in (grammar.ACK_CODE_INVALID, CASE_WORD, CASE_CODE):
            return Handled(
                Outcome.REJECTED,
                replies.first_fitting([grammar.error_text(error, language)]),
                command="not_understood",
            )
        return Handled(Outcome.HINT, replies.simple(language, "sms.reply.doctor_hint"))
    return acknowledgements.acknowledge_by_sms(inbound, who, command.code)


# --- coordinators ---


def _from_coordinator(inbound: Inbound, command: Command) -> Handled:
    if isinstance(command, WeeklyReportCommand):
        return weekly_report(inbound, command)
    if isinstance(command, AttendanceCommand):
        return attendance(inbound, command)
    if isinstance(command, MoveExchangeCommand):
        return exchanges.move(inbound, command)
    if isinstance(command, SkipExchangeCommand):
        return exchanges.skip(inbound, command)
    # An acknowledgement (or anything else a coordinator has no use for): the help text.
    return Handled(Outcome.HINT, replies.help_reply(inbound.language, "coordinator"))


def _correction(inbound: Inbound, refused: ReportRefused, command: Command) -> str:
    language = inbound.language
    if isinstance(refused, UnknownSeats):
        return replies.unknown_seats_reply(
            language, refused, attendance=isinstance(command, AttendanceCommand)
        )
    if isinstance(refused, ImplausibleReading):
        return replies.implausible_reply(language, refused)
    if isinstance(refused, HeadcountTooLarge):
        return replies.headcount_reply(language, refused)
    if isinstance(refused, ExchangeTimeRefused):
        return exchange_replies.exchange_refused_reply(language, refused, inbound.settings.tz)
    raise refused
