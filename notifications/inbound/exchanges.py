"""This week's exchange: a coordinator moves (`改 周四 19:00`) or skips (`停`) it; a
member confirms they will come (`1`, `去`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from grids.exchanges.confirmations import confirm as confirm_exchange
from grids.exchanges.planner import QuietWindow
from grids.reports.exchanges import ExchangeAlreadyHeld, MoveTooLate, move_exchange, skip_exchange
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import exchange_replies, replies
from notifications.sms.commands import MoveExchangeCommand, SkipExchangeCommand


def _day_and_time(language: str, starts: datetime, tz: ZoneInfo) -> dict[str, str]:
    local = starts.astimezone(tz)
    return {
        "weekday": replies.weekday_name(language, local.weekday()),
        "time": f"{local:%H:%M}",
    }


def held_reply(language: str, held: ExchangeAlreadyHeld, tz: ZoneInfo) -> str:
    """This week's exchange took place or its time came: nothing changes this week."""
    if held.reason == "attended" or held.starts_at is None:
        key, params = "sms.reply.exchange.held", {"count": str(held.headcount)}
    else:
        key, params = "sms.reply.exchange.passed", _day_and_time(language, held.starts_at, tz)
    return replies.first_fitting([replies.text(language, key, **params)])


def too_late_reply(language: str, refused: MoveTooLate, tz: ZoneInfo) -> str:
    """A move to a time already past, with a later time this week that would be accepted."""
    asked = _day_and_time(language, refused.starts_at, tz)
    if refused.example is None:
        return replies.first_fitting(
            [replies.text(language, "sms.reply.exchange.past_none", **asked)]
        )
    offered = _day_and_time(language, refused.example, tz)
    example = f"{offered['weekday']} {offered['time']}"
    if not language.startswith("zh"):
        example = example.upper()
    return replies.first_fitting(
        [replies.text(language, "sms.reply.exchange.past_example", example=example, **asked)]
    )


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
        return Handled(Outcome.REJECTED, held_reply(language, held, settings.tz))
    except MoveTooLate as refused:
        return Handled(Outcome.REJECTED, too_late_reply(language, refused, settings.tz))
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
        reply = held_reply(inbound.language, held, inbound.settings.tz)
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
