"""What happens to an inbound SMS, from Twilio's webhook to the TwiML reply.

1. The raw message is stored first (`InboundMessage`, unique `MessageSid`): a
   Twilio retry of the same message finds it and gets the same reply, changing
   nothing; two deliveries at once meet at the unique constraint.
2. The sender is looked up by number: a doctor, else a patient (a coordinator is
   a patient who is some grid's coordinator), else unknown.
3. The text is parsed and applied in the same transaction, with the outbox rows
   it causes; the outcome and the reply are stored with the message; one commit.
4. Whatever goes wrong, the person gets a reply that states only what was
   committed: on an unexpected error the transaction is rolled back, the message
   is stored again in a fresh one with outcome `error`, and an urgent-looking
   text is forwarded to the doctor; the reply says so only once that committed.
5. When the database cannot take the message at all, it is written to the local
   spool (`notifications.spool`), replayed into the database by the web process
   once the database is back, and the reply says it will be handled (for an
   urgent text: call the doctor or 120 now). If even the spool cannot be written,
   `SpoolUnavailable` is raised and the webhook answers non-2xx, so Twilio tries
   the number's fallback URL.
"""

from __future__ import annotations

import logging
import re
import traceback
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from config.logging import mask_phone, mask_phones_in
from config.settings import Settings
from grids.core.limits import URGENT_FORWARD_CHARS
from grids.core.notices import Notice
from grids.core.phones import InvalidPhone, normalise_phone
from grids.escalation.acknowledgement import (
    Acknowledger,
    AckOutcome,
    AckRefused,
    acknowledge,
    acknowledger,
    open_codes_for,
)
from grids.escalation.policy import policy_of
from grids.escalation.service import ladder_for
from grids.escalation.urgent import report_urgent
from grids.exchanges.confirmations import confirm as confirm_exchange
from grids.exchanges.planner import QuietWindow
from grids.models import Grid
from grids.reports.attendance import record_attendance
from grids.reports.errors import (
    ExchangeTimeRefused,
    HeadcountTooLarge,
    ImplausibleReading,
    ReportRefused,
    UnknownSeats,
)
from grids.reports.exchanges import coordinator_opted_out, move_exchange, skip_exchange
from grids.reports.senders import (
    Sender,
    current_grid_of,
    identify_sender,
    sender_of,
    sender_roster_query,
)
from grids.reports.weekly import MemberUpdate, record_weekly_report
from grids.storage.database import Database, is_postgresql
from i18n import normalise_language
from notifications import contacts, outbox
from notifications.escalation.tick import stop_pending_calls
from notifications.models import InboundMessage, SmsContact
from notifications.provider_templates import RELAY_TEMPLATE
from notifications.sms import confirm, grammar, replies
from notifications.sms.commands import (
    AckCommand,
    AttendanceCommand,
    Command,
    HelpCommand,
    MoveExchangeCommand,
    OptInCommand,
    OptOutCommand,
    Parsed,
    SkipExchangeCommand,
    UrgentCommand,
    WeeklyReportCommand,
)
from notifications.spool import Spool, Spooled, SpoolUnavailable, ensure_replaying

log = logging.getLogger(__name__)

__all__ = ["IncomingSms", "SpoolUnavailable", "handle", "receive", "replay_spooled"]

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
}
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_URGENT_LOOKING = re.compile(
    r"急|救|胸痛|胸闷|昏迷|晕倒|呼吸困难|中风|\b(?:URGENT|SOS|EMERGENCY|HELP ME)\b", re.IGNORECASE
)


class Outcome:
    APPLIED = "applied"
    AMENDED = "amended"
    REJECTED = "rejected"
    """Not understood, or refused with a correction; nothing applied."""
    HINT = "hint"
    """The sender's role may not do this; told who may."""
    HELP = "help"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    UNKNOWN_SENDER = "unknown_sender"
    UNKNOWN_SENDER_SILENT = "unknown_sender_quiet"
    """An unknown number already got its one reply today."""
    ERROR = "error"


@dataclass(frozen=True)
class IncomingSms:
    """The fields of Twilio's inbound webhook that we use; the rest is kept raw."""

    message_sid: str
    from_raw: str
    from_phone: str
    to_phone: str | None
    body: str
    params: dict[str, str]

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> IncomingSms:
        params = form.to_dict() if hasattr(form, "to_dict") else dict(form)
        # PostgreSQL text cannot hold NUL; keep the rest of the message as sent.
        params = {str(k): str(v).replace("\x00", "\ufffd") for k, v in params.items()}
        from_raw = params.get("From", "")
        try:
            from_phone = normalise_phone(from_raw)
        except InvalidPhone:
            from_phone = from_raw.strip()[:32]
        return cls(
            message_sid=(params.get("MessageSid") or params.get("SmsSid") or "").strip()[:64],
            from_raw=from_raw,
            from_phone=from_phone,
            to_phone=(params.get("To") or None),
            body=params.get("Body", ""),
            params=params,
        )


@dataclass
class Handled:
    outcome: str
    reply: str | None
    command: str | None = None
    language: str | None = None
    notices: list[Notice] = field(default_factory=list)
    sender_type: str | None = None
    sender_id: int | None = None


# --- receiving: store first, apply, commit; or fail safely ---


def receive(database: Database, settings: Settings, sms: IncomingSms, now: datetime) -> str | None:
    """Handle `sms` once; a repeat of its MessageSid gets the stored reply.

    When the database cannot store it, the message goes to the spool and the reply
    says so; raises `SpoolUnavailable` when the spool cannot be written either.
    """
    try:
        reply, _fresh = store_and_handle(database, settings, sms, now)
        return reply
    except Exception as error:
        log.error(
            "could not store inbound SMS %s from %s (%s); keeping it in the spool",
            sms.message_sid,
            mask_phone(sms.from_phone),
            mask_phones_in(str(error).splitlines()[0] if str(error) else type(error).__name__),
        )
    return _spool(database, settings, sms, now)


def store_and_handle(
    database: Database, settings: Settings, sms: IncomingSms, now: datetime
) -> tuple[str | None, bool]:
    """Store and apply `sms`; the reply, and whether this call stored it (False for a
    repeat). Raises when nothing could be stored."""
    try:
        try:
            return _receive(database, settings, sms, now)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # The pooled connection was gone (the server restarted since it was last
            # used; connections are not pinged before each use). The pool now makes new
            # ones; the retry stores the message, or finds it stored if the lost
            # connection had committed it.
            log.warning(
                "database connection lost while storing inbound SMS %s; trying once more",
                sms.message_sid,
            )
            return _receive(database, settings, sms, now)
    except Exception:
        log.error(
            "inbound SMS %s from %s failed; storing it with outcome error:\n%s",
            sms.message_sid,
            mask_phone(sms.from_phone),
            mask_phones_in(traceback.format_exc()),
        )
        return _receive_after_failure(database, settings, sms, now)


def spool_of(settings: Settings) -> Spool:
    return Spool(settings.inbound_spool_dir)


def _spool(database: Database, settings: Settings, sms: IncomingSms, now: datetime) -> str:
    spool = spool_of(settings)
    try:
        spool.append(sms.params, now)
    except SpoolUnavailable:
        log.critical(
            "inbound SMS %s from %s kept nowhere: neither the database nor the spool "
            "could store it",
            sms.message_sid,
            mask_phone(sms.from_phone),
        )
        raise
    start_replaying(database, settings)
    language = guess_language(sms.body, settings.default_language)
    key = "sms.reply.spooled_urgent" if looks_urgent(sms.body) else "sms.reply.spooled"
    return replies.simple(language, key)


def start_replaying(database: Database, settings: Settings) -> None:
    """Replay the spool from a thread of this process until it is empty."""

    def store(entry: Spooled) -> None:
        replay_spooled(database, settings, entry)

    ensure_replaying(spool_of(settings), store, ready=database.is_reachable)


def replay_spooled(database: Database, settings: Settings, entry: Spooled) -> None:
    """Store and apply a spooled message as of when it arrived; its reply, which the
    sender could not be given then, is sent as an SMS. Raises when the database is
    still unavailable (the spool keeps the message)."""
    sms = IncomingSms.from_form(entry.params)
    reply, fresh = store_and_handle(database, settings, sms, entry.received_at)
    if not (reply and fresh):
        return
    try:
        notice = Notice.to_phone(
            sms.from_phone,
            key=f"reply:{sms.message_sid}",
            language=guess_language(sms.body, settings.default_language),
            template=RELAY_TEMPLATE,
            params={"reply": reply},
            urgent=looks_urgent(sms.body),
        )
        with database.unit_of_work() as session:
            outbox.enqueue(session, notice, now=entry.received_at)
            session.commit()
    except ValueError as refused:
        log.warning("reply to spooled SMS %s not sent: %s", sms.message_sid, refused)


def _stored(session: Session, message_sid: str) -> InboundMessage | None:
    return session.scalar(select(InboundMessage).where(InboundMessage.message_sid == message_sid))


def _new_row(sms: IncomingSms, now: datetime, outcome: str = "received") -> InboundMessage:
    return InboundMessage(**_row_values(sms, now, outcome))


def _row_values(sms: IncomingSms, now: datetime, outcome: str) -> dict[str, Any]:
    return {
        "message_sid": sms.message_sid,
        "from_phone": sms.from_phone,
        "to_phone": (sms.to_phone or "")[:32] or None,
        "body": sms.body,
        "params": sms.params,
        "received_at": now,
        "outcome": outcome,
    }


# Built once, so SQLAlchemy finds the compiled statements without rebuilding them.
_INBOUND = InboundMessage.__table__
_STORED = ("message_sid", "from_phone", "to_phone", "body", "params", "received_at", "outcome")
_STORE = _INBOUND.insert().values(
    {name: bindparam(name, type_=_INBOUND.c[name].type) for name in _STORED}
)
# On PostgreSQL the message is stored by the statement that finds its sender (a
# data-modifying WITH runs once, whatever the query reads): one round trip, not two.
_STORE_AND_FIND_SENDER = sender_roster_query().add_cte(_STORE.cte("stored"))
_OUTCOME = ("sender_type", "sender_id", "outcome", "command", "language", "reply")
_RECORD_OUTCOME = (
    update(_INBOUND)
    .where(_INBOUND.c.message_sid == bindparam("sid"))
    .values({name: bindparam(name) for name in _OUTCOME})
)


def _store(session: Session, sms: IncomingSms, now: datetime) -> Sender | None:
    """Store `sms` as received; on PostgreSQL, also find its sender in the same round
    trip (None elsewhere). Raises IntegrityError for a MessageSid stored already."""
    values = _row_values(sms, now, "received")
    if is_postgresql(session):
        rows = session.execute(_STORE_AND_FIND_SENDER, {**values, "phone": sms.from_phone})
        return sender_of(session, rows.all())
    session.execute(_STORE, values)
    return None


def _receive(
    database: Database, settings: Settings, sms: IncomingSms, now: datetime
) -> tuple[str | None, bool]:
    with database.unit_of_work() as session:
        try:
            # Stored first. A Twilio retry, even one arriving while the first delivery
            # is still being applied, waits on the unique MessageSid and fails here.
            sender = _store(session, sms, now)
        except IntegrityError:
            session.rollback()
            earlier = _stored(session, sms.message_sid)
            if earlier is None:
                raise
            return earlier.reply, False
        handled = handle(session, settings, sms, now, sender=sender)
        if len(handled.notices) == 1:
            outbox.enqueue(session, handled.notices[0], now=now)
        elif handled.notices:
            outbox.enqueue_many(session, handled.notices, now=now)
        outcome = {name: getattr(handled, name) for name in _OUTCOME}
        session.execute(_RECORD_OUTCOME, {"sid": sms.message_sid, **outcome})
        session.commit()
        return handled.reply, True


def guess_language(body: str, default: str) -> str:
    if _HAN.search(body):
        return "zh_CN"
    if _LATIN.search(body):
        return "en"
    return normalise_language(default)


def looks_urgent(body: str) -> bool:
    text = unicodedata.normalize("NFKC", body)
    if _URGENT_LOOKING.search(text):
        return True
    try:
        return grammar.red_flag(text) is not None
    except Exception:
        return False


def _receive_after_failure(
    database: Database, settings: Settings, sms: IncomingSms, now: datetime
) -> tuple[str, bool]:
    """Store the message with outcome `error` (and forward an urgent-looking one); the
    reply states what this transaction holds, and is given only once it committed."""
    language = guess_language(sms.body, settings.default_language)
    with database.unit_of_work() as session:
        earlier = _stored(session, sms.message_sid)
        if earlier is not None:
            return earlier.reply or replies.simple(language, "sms.reply.error"), False
        row = _new_row(sms, now, outcome=Outcome.ERROR)
        row.language = language
        session.add(row)
        session.flush()
        forwarded = looks_urgent(sms.body) and _forward_raw(session, settings, sms, now)
        key = "sms.reply.error_forwarded" if forwarded else "sms.reply.error"
        row.reply = replies.simple(language, key)
        session.commit()
        return row.reply, True


def _forward_raw(session: Session, settings: Settings, sms: IncomingSms, now: datetime) -> bool:
    """Send an urgent-looking text, as received, to the first step of the sender's
    escalation ladder (their doctor, else the next one up); best effort, in a savepoint
    so a failure here keeps the stored message."""
    try:
        with session.begin_nested():
            sender = identify_sender(session, sms.from_phone)
            grid: Grid | None = sender.roster.grid if sender.roster else None
            if grid is None and sender.patient is not None:
                grid = current_grid_of(session, sender.patient)
            if grid is None and sender.patient is None:
                return False
            params = {
                "phone": sms.from_phone,
                "text": " ".join(sms.body.split())[: URGENT_FORWARD_CHARS + 20],
            }
            # The same ladder as every urgent report: its first step hears of it.
            ladder = ladder_for(
                session,
                grid_id=grid.id if grid is not None else None,
                facility_id=sender.patient.facility_id if sender.patient is not None else None,
                policy=policy_of(settings),
                can_receive=can_receive_sms(session),
            )
            first = ladder.steps[0].contacts if ladder.steps else ()
            if not first:
                return False
            for contact in first:
                outbox.enqueue(
                    session,
                    Notice(
                        key=f"urgent-fallback:{sms.message_sid}:{contact.phone}",
                        phone=contact.phone,
                        language=contact.language,
                        template="sms.urgent.fallback",
                        params=params,
                        urgent=True,
                        recipient_type=contact.kind,
                        recipient_id=contact.id,
                    ),
                    now=now,
                )
        return True
    except Exception:
        log.error(
            "could not forward urgent-looking SMS %s:\n%s",
            sms.message_sid,
            mask_phones_in(traceback.format_exc()),
        )
        return False


# --- deciding what a message does ---


@dataclass(frozen=True)
class Inbound:
    """One inbound message being handled: what every step below needs to know."""

    session: Session
    settings: Settings
    sms: IncomingSms
    now: datetime
    sender: Sender
    parsed: Parsed
    language: str
    """The language of the reply."""


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
    if language == "en" and sender.language and grammar.keywords_only(sms.body):
        # `OK 5 BP150/95` from a Chinese volunteer: answer in the language they read.
        language = sender.language
    language = normalise_language(language or sender.language or settings.default_language)
    command = parsed.command
    handled = _dispatch(Inbound(session, settings, sms, now, sender, parsed, language))
    handled.language = language
    handled.sender_type = sender.role
    handled.sender_id = sender.person_id
    if handled.command is None and command is not None:
        handled.command = COMMAND_NAMES.get(type(command))
    return handled


def _dispatch(inbound: Inbound) -> Handled:
    session, settings, sms, now = inbound.session, inbound.settings, inbound.sms, inbound.now
    sender, parsed, language = inbound.sender, inbound.parsed, inbound.language
    command = parsed.command
    if isinstance(command, OptOutCommand):
        contacts.opt_out(session, sms.from_phone, command.keyword, now)
        notices: list[Notice] = []
        if sender.role == "coordinator" and sender.roster and sender.patient:
            notices = coordinator_opted_out(
                session, sender.roster, sender.patient, day=now.astimezone(settings.tz).date()
            )
        # A doctor who opts out gets no urgent alerts: escalation sends them to the duty
        # phone instead, and the reply says so.
        key = "sms.reply.opted_out_doctor" if sender.role == "doctor" else "sms.reply.opted_out"
        return Handled(Outcome.OPTED_OUT, replies.simple(language, key), notices=notices)
    if isinstance(command, OptInCommand):
        contacts.opt_in(session, sms.from_phone, now)
        return Handled(Outcome.OPTED_IN, replies.simple(language, "sms.reply.opted_in"))
    if sender.role == "unknown":
        if isinstance(command, AckCommand):
            # A facility's duty phone, the county bureau, or a stranger: the ladder decides.
            return _acknowledge(inbound, _acknowledger(inbound), command.code)
        if isinstance(command, UrgentCommand):
            # Nobody to alert for a number we do not know: always say so and point to
            # 120, however many times today this number has written.
            log.warning("urgent SMS from unregistered number %s", mask_phone(sms.from_phone))
            return Handled(
                Outcome.UNKNOWN_SENDER, replies.simple(language, "sms.reply.unknown_sender_urgent")
            )
        key = "sms.help.unknown" if isinstance(command, HelpCommand) else "sms.reply.unknown_sender"
        return _unknown_sender(inbound, key)
    if isinstance(command, HelpCommand):
        return Handled(Outcome.HELP, replies.help_reply(language, sender.role))
    if sender.role == "member" and sender.roster and confirm.is_confirmation(sms.body):
        return _confirmation(session, settings, sender, language, now)
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
        return _urgent(inbound, command)
    if sender.role != "coordinator":
        return _member_hint(sender, language, Outcome.HINT)
    assert sender.roster is not None and sender.patient is not None
    try:
        return _from_coordinator(inbound, command)
    except ReportRefused as refused:
        return Handled(Outcome.REJECTED, _correction(inbound, refused, command))


def _confirmation(
    session: Session, settings: Settings, sender: Sender, language: str, now: datetime
) -> Handled:
    assert sender.roster is not None and sender.patient is not None
    confirmed = confirm_exchange(
        session, sender.roster.grid, sender.patient, now=now, tz=settings.tz
    )
    return Handled(
        Outcome.APPLIED,
        replies.confirmation_reply(
            language, confirmed.starts_at if confirmed else None, settings.tz
        ),
        command="confirm",
    )


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


def _from_doctor(inbound: Inbound) -> Handled:
    session, sender, language = inbound.session, inbound.sender, inbound.language
    assert sender.doctor is not None
    parsed = inbound.parsed
    command = parsed.command
    if not isinstance(command, AckCommand) or command.code is None:
        # Doctors send no reports: one of their open codes anywhere (`K7Q 收到`,
        # `已处理 K7Q`) answers that alert.
        code = _open_code_named(session, _acknowledger(inbound), inbound.sms.body)
        if code is not None:
            command = AckCommand(code)
    if not isinstance(command, AckCommand):
        error = parsed.error
        if error is not None and error.code == grammar.ACK_CODE_INVALID:
            return Handled(
                Outcome.REJECTED,
                replies.first_fitting([grammar.error_text(error, language)]),
                command="not_understood",
            )
        return Handled(Outcome.HINT, replies.simple(language, "sms.reply.doctor_hint"))
    return _acknowledge(inbound, _acknowledger(inbound), command.code)


def _acknowledger(inbound: Inbound) -> Acknowledger:
    return acknowledger(
        inbound.session,
        inbound.sms.from_phone,
        doctor=inbound.sender.doctor,
        county_duty_phone=inbound.settings.county_duty_phone,
    )


def _acknowledge(inbound: Inbound, who: Acknowledger, code: str | None) -> Handled:
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


def can_receive_sms(session: Session) -> Callable[[str], bool]:
    """Whether a number can get SMS: not opted out, not flagged invalid by the provider
    (the dispatcher would suppress anything sent to it)."""

    def can_receive(phone: str) -> bool:
        return phone not in contacts.unreachable_numbers(session, [phone])

    return can_receive


def _open_code_named(session: Session, who: Acknowledger, body: str) -> str | None:
    """The one open code `who` may acknowledge that `body` names as a word, if exactly one."""
    words = set(re.findall(r"[A-Z0-9]+", unicodedata.normalize("NFKC", body).upper()))
    if not words:
        return None
    named = [code for code in open_codes_for(session, who) if code in words]
    return named[0] if len(named) == 1 else None


def _urgent(inbound: Inbound, command: UrgentCommand) -> Handled:
    session, settings, sms, now = inbound.session, inbound.settings, inbound.sms, inbound.now
    sender, language = inbound.sender, inbound.language
    assert sender.patient is not None
    notices: list[Notice] = []
    report_fate: str | None = None
    if sender.role == "coordinator" and sender.roster:
        if command.report is not None:
            # `好 5 胸闷`: the report is kept too; a refused one must not hold up the
            # alert, and the coordinator is told it was not recorded.
            try:
                with session.begin_nested():
                    carried = record_weekly_report(
                        session,
                        sender.roster,
                        sender.patient,
                        all_stable=command.report.all_stable,
                        updates=_member_updates(command.report),
                        now=now,
                        tz=settings.tz,
                        source_ref=sms.message_sid,
                    )
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
    outcome = report_urgent(
        session,
        reporter=sender.patient,
        roster=sender.roster,
        seat=command.seat,
        text=command.text or sms.body,
        red_flag=command.red_flag,
        now=now,
        source_ref=sms.message_sid,
        default_language=settings.default_language,
        can_receive=can_receive_sms(session),
        policy=policy_of(settings),
    )
    if outcome.notified == "nobody":
        log.error(
            "urgent report %s (grid %s) reached nobody: no doctor and no duty phone",
            outcome.urgent.code,
            sender.roster.grid.code if sender.roster else "-",
        )
    return Handled(
        Outcome.APPLIED,
        replies.urgent_reply(language, outcome, command.text, report=report_fate),
        notices=[*outcome.notices, *notices],
    )


def _member_updates(command: WeeklyReportCommand) -> list[MemberUpdate]:
    return [
        MemberUpdate(
            seat=item.seat,
            systolic=item.blood_pressure.systolic if item.blood_pressure else None,
            diastolic=item.blood_pressure.diastolic if item.blood_pressure else None,
            glucose_mmol=item.glucose_mmol,
            events=tuple(str(event) for event in item.events),
            note=item.note,
        )
        for item in command.items
    ]


def _from_coordinator(inbound: Inbound, command: Command) -> Handled:
    session, sms, now, language = inbound.session, inbound.sms, inbound.now, inbound.language
    roster, coordinator = inbound.sender.roster, inbound.sender.patient
    assert roster is not None and coordinator is not None
    tz = inbound.settings.tz
    if isinstance(command, WeeklyReportCommand):
        report = record_weekly_report(
            session,
            roster,
            coordinator,
            all_stable=command.all_stable,
            updates=_member_updates(command),
            now=now,
            tz=tz,
            source_ref=sms.message_sid,
        )
        return Handled(
            Outcome.AMENDED if report.amended else Outcome.APPLIED,
            replies.report_reply(language, report),
            notices=report.notices,
        )
    if isinstance(command, AttendanceCommand):
        attendance = record_attendance(
            session,
            roster,
            headcount=command.headcount,
            seats=command.seats,
            now=now,
            tz=tz,
            source_ref=sms.message_sid,
        )
        return Handled(
            Outcome.AMENDED if attendance.amended else Outcome.APPLIED,
            replies.attendance_reply(language, attendance),
        )
    if isinstance(command, MoveExchangeCommand):
        moved = move_exchange(
            session,
            roster,
            coordinator,
            at=command.at,
            weekday=command.weekday,
            days_ahead=command.days_ahead,
            now=now,
            tz=tz,
            source_ref=sms.message_sid,
            quiet=QuietWindow.of(
                inbound.settings.quiet_hours.start, inbound.settings.quiet_hours.end
            ),
        )
        return Handled(
            Outcome.APPLIED, replies.exchange_reply(language, moved), notices=moved.notices
        )
    if isinstance(command, SkipExchangeCommand):
        skipped = skip_exchange(
            session, roster, coordinator, now=now, tz=tz, source_ref=sms.message_sid
        )
        return Handled(
            Outcome.APPLIED, replies.exchange_reply(language, skipped), notices=skipped.notices
        )
    # An acknowledgement (or anything else a coordinator has no use for): the help text.
    return Handled(Outcome.HINT, replies.help_reply(language, "coordinator"))


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
        return replies.exchange_refused_reply(language, refused, inbound.settings.tz)
    raise refused
