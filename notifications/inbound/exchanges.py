"""This week's exchange: a coordinator moves (`改 周四 19:00`) or skips (`停`) it; a
member confirms they will come (`1`, `去`)."""

from __future__ import annotations

from grids.exchanges.confirmations import confirm as confirm_exchange
from grids.exchanges.planner import QuietWindow
from grids.reports.exchanges import ExchangeAlreadyHeld, MoveTooLate, move_exchange, skip_exchange
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import exchange_replies, replies
from notifications.sms.commands import MoveExchangeCommand, SkipExchangeCommand


def move(inbound: Inbound, command: MoveExchangeCommand) -> Handled:
    """Raises `ExchangeTimeRefused` for a time the exchange cannot move to."""
    roster, coordinator = inbound.sender.roster, inbound.sender.patient
    assert roster is not None and coordinator is not None
    settings, language = inbound.settings, inbound.language
    try:
        moved = move_exchange(
            inbound.session,
            roster,
            coordinator,
            at=command.at,
            weekday=command.weekday,
            days_ahead=command.days_ahead,
            now=inbound.now,
            tz=settings.tz,
            source_ref=inbound.sms.message_sid,
            quiet=QuietWindow.of(settings.quiet_hours.start, settings.quiet_hours.end),
        )
    except ExchangeAlreadyHeld as held:
        return Handled(Outcome.REJECTED, exchange_replies.held_reply(language, held, settings.tz))
    except MoveTooLate as refused:
        return Handled(
            Outcome.REJECTED, exchange_replies.too_late_reply(language, refused, settings.tz)
        )
    return Handled(
        Outcome.APPLIED,
        exchange_replies.exchange_reply(inbound.language, moved),
        notices=moved.notices,
    )


def skip(inbound: Inbound, command: SkipExchangeCommand) -> Handled:
    roster, coordinator = inbound.sender.roster, inbound.sender.patient
    assert roster is not None and coordinator is not None
    try:
        skipped = skip_exchange(
            inbound.session,
            roster,
            coordinator,
            now=inbound.now,
            tz=inbound.settings.tz,
            source_ref=inbound.sms.message_sid,
        )
    except ExchangeAlreadyHeld as held:
        reply = exchange_replies.held_reply(inbound.language, held, inbound.settings.tz)
        return Handled(Outcome.REJECTED, reply)
    return Handled(
        Outcome.APPLIED,
        exchange_replies.exchange_reply(inbound.language, skipped),
        notices=skipped.notices,
    )


def member_confirmation(inbound: Inbound) -> Handled:
    sender, settings = inbound.sender, inbound.settings
    assert sender.roster is not None and sender.patient is not None
    confirmed = confirm_exchange(
        inbound.session, sender.roster.grid, sender.patient, now=inbound.now, tz=settings.tz
    )
    return Handled(
        Outcome.APPLIED,
        replies.confirmation_reply(
            inbound.language, confirmed.starts_at if confirmed else None, settings.tz
        ),
        command="confirm",
    )
