"""The replies to a coordinator moving or skipping this week's exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from notifications.sms.replies import day_and_time, first_fitting, text, weekday_name

if TYPE_CHECKING:  # the outcomes' modules use the database; replies need only their shapes
    from grids.reports.errors import ExchangeTimeRefused
    from grids.reports.exchanges import ExchangeAlreadyHeld, ExchangeOutcome, MoveTooLate


def exchange_reply(language: str, outcome: ExchangeOutcome) -> str:
    if outcome.skipped:
        key = (
            "sms.reply.exchange.skipped_unchanged"
            if outcome.unchanged
            else "sms.reply.exchange.skipped"
        )
        return first_fitting([text(language, key, count=outcome.members_told)])
    assert outcome.starts_at is not None
    params = {
        "weekday": weekday_name(language, outcome.starts_at.weekday()),
        "time": f"{outcome.starts_at:%H:%M}",
    }
    if outcome.unchanged:
        return first_fitting([text(language, "sms.reply.exchange.moved_unchanged", **params)])
    return first_fitting(
        [text(language, "sms.reply.exchange.moved", count=outcome.members_told, **params)]
    )


def exchange_refused_reply(language: str, refused: ExchangeTimeRefused, tz: ZoneInfo) -> str:
    if refused.reason == "past":
        asked = day_and_time(language, refused.starts_at, tz)
        return first_fitting([text(language, "sms.reply.exchange.past", **asked)])
    if refused.reason in ("quiet_hours", "venue_taken"):
        asked = day_and_time(language, refused.starts_at, tz)
        return first_fitting(
            [
                text(
                    language,
                    f"sms.reply.exchange.{refused.reason}",
                    grid=refused.clash or "-",
                    **asked,
                ),
                text(language, f"sms.reply.exchange.{refused.reason}_short"),
            ]
        )
    return first_fitting([text(language, "sms.reply.exchange.not_this_week")])


def held_reply(language: str, held: ExchangeAlreadyHeld, tz: ZoneInfo) -> str:
    """This week's exchange took place or its time came: nothing changes this week."""
    if held.reason == "attended" or held.starts_at is None:
        key, params = "sms.reply.exchange.held", {"count": str(held.headcount)}
    else:
        key, params = "sms.reply.exchange.passed", day_and_time(language, held.starts_at, tz)
    return first_fitting([text(language, key, **params)])


def too_late_reply(language: str, refused: MoveTooLate, tz: ZoneInfo) -> str:
    """A move to a time already past, with a later time this week that would be accepted."""
    asked = day_and_time(language, refused.starts_at, tz)
    if refused.example is None:
        return first_fitting([text(language, "sms.reply.exchange.past_none", **asked)])
    offered = day_and_time(language, refused.example, tz)
    example = f"{offered['weekday']} {offered['time']}"
    if not language.startswith("zh"):
        example = example.upper()
    return first_fitting(
        [text(language, "sms.reply.exchange.past_example", example=example, **asked)]
    )
