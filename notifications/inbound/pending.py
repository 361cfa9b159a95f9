"""Messages stored before they are applied: a mainland push stores its whole batch
first, in chunks, so that every item is kept whatever happens next, then applies each
stored message in its own transaction (docs/mainland-sms.md, "Batch sizes").

A stored message waits with outcome `received`. Applying it first claims it
(`received` -> `applying` in the applying transaction), so two processes, or a
provider's repeat arriving meanwhile, never apply it twice; a failure rolls the claim
back with everything else and the message is stored with outcome `error` as on the
Twilio path (`fallback`).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update

from config.logging import mask_phone, mask_phones_in
from config.settings import Settings
from grids.storage.bulk import insert_many
from grids.storage.database import Database
from notifications import outbox
from notifications.inbound.context import Outcome
from notifications.inbound.fallback import receive_after_failure
from notifications.inbound.message import IncomingSms
from notifications.inbound.records import row_values
from notifications.inbound.routing import handle
from notifications.models import InboundMessage

log = logging.getLogger(__name__)

_INBOUND = InboundMessage.__table__
_RECEIVED_AT = bindparam("at", type_=_INBOUND.c.received_at.type)
# The time it was received names the month, so the partition that holds the row
# (PostgreSQL keeps one a month): without it each UPDATE would look in every month ever
# kept. Should a message be stored at another time than the caller knows, the claim by
# MessageSid alone still finds it.
_CLAIM_BY_SID = (
    update(_INBOUND)
    .where(_INBOUND.c.message_sid == bindparam("sid"), _INBOUND.c.outcome == Outcome.RECEIVED)
    .values(outcome="applying")
    .returning(_INBOUND.c.received_at)
)
_CLAIM = _CLAIM_BY_SID.where(_INBOUND.c.received_at == _RECEIVED_AT)
_OUTCOME = ("sender_type", "sender_id", "outcome", "command", "language", "reply")
_RECORD_OUTCOME = (
    update(_INBOUND)
    .where(_INBOUND.c.message_sid == bindparam("sid"), _INBOUND.c.received_at == _RECEIVED_AT)
    .values({name: bindparam(name) for name in _OUTCOME})
)
_LOOKUP_CHUNK = 1000
"""MessageSids per `IN (...)` query: far below PostgreSQL's 65,535 parameters."""


@dataclass(frozen=True)
class Stored:
    """A stored message: whether it waits to be applied, else its reply and language."""

    message_sid: str
    waiting: bool
    reply: str | None = None
    language: str | None = None
    received_at: datetime | None = None


def store_received(
    database: Database,
    messages: Sequence[IncomingSms],
    now: datetime,
    *,
    chunk: int,
    known: Collection[str] = (),
) -> None:
    """Store `messages` unapplied, `chunk` rows per transaction (one statement each on
    PostgreSQL), skipping MessageSids in `known` or stored meanwhile."""
    rows = [row_values(sms, now, Outcome.RECEIVED) for sms in messages]
    rows = [row for row in rows if row["message_sid"] not in known]
    for start in range(0, len(rows), chunk):
        with database.unit_of_work() as session:
            insert_many(
                session.connection(),
                _INBOUND,
                rows[start : start + chunk],
                skip_conflicts_on=["message_sid"],
            )
            session.commit()


def stored_states(database: Database, sids: Sequence[str]) -> dict[str, Stored]:
    """The state of each of `sids` that is stored."""
    found: dict[str, Stored] = {}
    with database.unit_of_work() as session:
        for start in range(0, len(sids), _LOOKUP_CHUNK):
            rows = session.execute(
                select(
                    InboundMessage.message_sid,
                    InboundMessage.outcome,
                    InboundMessage.reply,
                    InboundMessage.language,
                    InboundMessage.received_at,
                ).where(InboundMessage.message_sid.in_(sids[start : start + _LOOKUP_CHUNK]))
            )
            for sid, outcome, reply, language, received_at in rows:
                found[sid] = Stored(sid, outcome == Outcome.RECEIVED, reply, language, received_at)
    return found


def apply_stored(
    database: Database,
    settings: Settings,
    sms: IncomingSms,
    now: datetime,
    *,
    received_at: datetime,
) -> Stored | None:
    """Apply `sms`, stored earlier unapplied at `received_at`; None when it is applied
    already (or being applied by another process)."""
    try:
        with database.unit_of_work() as session:
            sid = sms.message_sid
            stored_at = session.scalar(_CLAIM, {"sid": sid, "at": received_at})
            if stored_at is None:
                stored_at = session.scalar(_CLAIM_BY_SID, {"sid": sid})
            if stored_at is None:
                return None
            handled = handle(session, settings, sms, now)
            if handled.notices:
                outbox.enqueue_many(session, handled.notices, now=now)
            outcome = {name: getattr(handled, name) for name in _OUTCOME}
            session.execute(_RECORD_OUTCOME, {"sid": sid, "at": stored_at, **outcome})
            session.commit()
            return Stored(sms.message_sid, False, handled.reply, handled.language)
    except Exception:
        log.error(
            "stored inbound SMS %s from %s failed; storing it with outcome error:\n%s",
            sms.message_sid,
            mask_phone(sms.from_phone),
            mask_phones_in(traceback.format_exc()),
        )
        reply, fresh = receive_after_failure(database, settings, sms, now)
        return Stored(sms.message_sid, False, reply, None) if fresh else None
