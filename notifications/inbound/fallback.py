"""When applying a message failed: store it with outcome `error`, forward an urgent
text as received to the first step of the sender's ladder, and reply only what
committed."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime

from sqlalchemy.orm import Session

from config.logging import mask_phones_in
from config.settings import Settings
from grids.core.limits import URGENT_FORWARD_CHARS
from grids.core.notices import Notice
from grids.escalation.policy import policy_of
from grids.escalation.service import ladder_for
from grids.models import Grid
from grids.reports.senders import current_grid_of, identify_sender
from grids.storage.database import Database
from notifications import outbox
from notifications.inbound.context import Outcome
from notifications.inbound.message import IncomingSms, guess_language
from notifications.inbound.records import new_row, stored
from notifications.inbound.urgent import can_receive_sms
from notifications.sms import grammar, replies

log = logging.getLogger(__name__)


def receive_after_failure(
    database: Database, settings: Settings, sms: IncomingSms, now: datetime
) -> tuple[str, bool]:
    """Store the message with outcome `error` (and forward an urgent one); the reply
    states what this transaction holds, and is given only once it committed. A message
    stored earlier and never applied (`received`) is given that outcome."""
    language = guess_language(sms.body, settings.default_language)
    with database.unit_of_work() as session:
        earlier = stored(session, sms.message_sid)
        if earlier is not None and earlier.outcome != Outcome.RECEIVED:
            return earlier.reply or replies.simple(language, "sms.reply.error"), False
        row = earlier or new_row(sms, now, outcome=Outcome.ERROR)
        row.outcome = Outcome.ERROR
        row.language = language
        session.add(row)
        session.flush()
        forwarded = grammar.is_urgent(sms.body) and _forward_raw(session, settings, sms, now)
        key = "sms.reply.error_forwarded" if forwarded else "sms.reply.error"
        row.reply = replies.simple(language, key)
        session.commit()
        return row.reply, True


def _forward_raw(session: Session, settings: Settings, sms: IncomingSms, now: datetime) -> bool:
    """Send an urgent text, as received, to the first step of the sender's escalation
    ladder (their doctor, else the next one up); best effort, in a savepoint so a
    failure here keeps the stored message."""
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
