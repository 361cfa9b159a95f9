"""Receiving: store first, apply, commit; retry a lost connection once; spool what the
database cannot take and replay it when the database is back."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from config.logging import mask_phone, mask_phones_in
from config.settings import Settings
from grids.core.notices import Notice
from grids.reports.senders import Sender, sender_of, sender_roster_query
from grids.storage.database import Database, is_postgresql
from notifications import outbox
from notifications.inbound.fallback import receive_after_failure
from notifications.inbound.message import IncomingSms, guess_language
from notifications.inbound.records import row_values, stored
from notifications.inbound.routing import handle
from notifications.models import InboundMessage
from notifications.provider_templates import RELAY_TEMPLATE
from notifications.sms import grammar, replies
from notifications.spool import Spool, Spooled, SpoolUnavailable, ensure_replaying

log = logging.getLogger(__name__)


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
        return receive_after_failure(database, settings, sms, now)


# --- the spool ---


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
    key = "sms.reply.spooled_urgent" if grammar.is_urgent(sms.body) else "sms.reply.spooled"
    return replies.simple(language, key)


def start_replaying(database: Database, settings: Settings) -> None:
    """Replay the spool from a thread of this process until it is empty."""

    def store(entry: Spooled) -> None:
        replay_spooled(database, settings, entry)

    ensure_replaying(spool_of(settings), store, ready=database.is_reachable)


def replay_spooled(database: Database, settings: Settings, entry: Spooled) -> None:
    """Store and apply a spooled message as of when it arrived; its reply, which the
    sender could not be given then, is sent as an SMS. Raises when the database is
    still unavailable (the spool keeps the message).

    A message found stored already (committed just before the connection dropped, or
    spooled twice by Twilio's retries) was spooled all the same, so its sender was told
    to wait: the stored reply is sent, once, under the key `reply:<MessageSid>`."""
    sms = IncomingSms.from_form(entry.params)
    reply, _fresh = store_and_handle(database, settings, sms, entry.received_at)
    if not reply:
        return
    try:
        notice = Notice.to_phone(
            sms.from_phone,
            key=f"reply:{sms.message_sid}",
            language=guess_language(sms.body, settings.default_language),
            template=RELAY_TEMPLATE,
            params={"reply": reply},
            urgent=grammar.is_urgent(sms.body),
        )
        with database.unit_of_work() as session:
            outbox.enqueue(session, notice, now=entry.received_at)
            session.commit()
    except ValueError as refused:
        log.warning("reply to spooled SMS %s not sent: %s", sms.message_sid, refused)


# --- storing and applying in one transaction ---

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
# The month it was received names the partition that holds the row (PostgreSQL keeps one
# a month): without it the UPDATE would look in every month ever kept.
_RECORD_OUTCOME = (
    update(_INBOUND)
    .where(
        _INBOUND.c.message_sid == bindparam("sid"),
        _INBOUND.c.received_at == bindparam("at", type_=_INBOUND.c.received_at.type),
    )
    .values({name: bindparam(name) for name in _OUTCOME})
)


def _store(session: Session, sms: IncomingSms, now: datetime) -> Sender | None:
    """Store `sms` as received; on PostgreSQL, also find its sender in the same round
    trip (None elsewhere). Raises IntegrityError for a MessageSid stored already."""
    values = row_values(sms, now, "received")
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
            earlier = stored(session, sms.message_sid)
            if earlier is None:
                raise
            return earlier.reply, False
        handled = handle(session, settings, sms, now, sender=sender)
        if len(handled.notices) == 1:
            outbox.enqueue(session, handled.notices[0], now=now)
        elif handled.notices:
            outbox.enqueue_many(session, handled.notices, now=now)
        outcome = {name: getattr(handled, name) for name in _OUTCOME}
        session.execute(_RECORD_OUTCOME, {"sid": sms.message_sid, "at": now, **outcome})
        session.commit()
        return handled.reply, True
