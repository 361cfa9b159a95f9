"""Stop and start: the opt-out words (`退订`, `T`, `STOP` ...) and `开始` / `START`."""

from __future__ import annotations

from grids.core.notices import Notice
from grids.reports.exchanges import coordinator_opted_out
from notifications import contacts
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import replies
from notifications.sms.commands import OptOutCommand


def opt_out(inbound: Inbound, command: OptOutCommand) -> Handled:
    sender, now = inbound.sender, inbound.now
    contacts.opt_out(inbound.session, inbound.sms.from_phone, command.keyword, now)
    notices: list[Notice] = []
    if sender.role == "coordinator" and not sender.deputy and sender.roster and sender.patient:
        notices = coordinator_opted_out(
            inbound.session,
            sender.roster,
            sender.patient,
            day=now.astimezone(inbound.settings.tz).date(),
        )
    # A doctor who opts out gets no urgent alerts: escalation sends them to the duty
    # phone instead, and the reply says so.
    key = "sms.reply.opted_out_doctor" if sender.role == "doctor" else "sms.reply.opted_out"
    return Handled(Outcome.OPTED_OUT, replies.simple(inbound.language, key), notices=notices)


def opt_in(inbound: Inbound) -> Handled:
    contacts.opt_in(inbound.session, inbound.sms.from_phone, inbound.now)
    return Handled(Outcome.OPTED_IN, replies.simple(inbound.language, "sms.reply.opted_in"))
