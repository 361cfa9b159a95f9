"""The replies to a coordinator moving or skipping this week's exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from notifications.sms.replies import first_fitting, text, weekday_name

if TYPE_CHECKING:  # the outcomes' modules use the database; replies need only their shapes
    from grids.reports.errors import ExchangeTimeRefused
    from grids.reports.exchanges import ExchangeOutcome


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
        starts = refused.starts_at.astimezone(tz)
        return first_fitting(
            [
                text(
                    language,
                    "sms.reply.exchange.past",
                    weekday=weekday_name(language, starts.weekday()),
                    time=f"{starts:%H:%M}",
                )
            ]
        )
    if refused.reason in ("quiet_hours", "venue_taken"):
        starts = refused.starts_at.astimezone(tz)
        return first_fitting(
            [
                text(
                    language,
                    f"sms.reply.exchange.{refused.reason}",
                    weekday=weekday_name(language, starts.weekday()),
                    time=f"{starts:%H:%M}",
                    grid=refused.clash or "-",
                ),
                text(language, f"sms.reply.exchange.{refused.reason}_short"),
            ]
        )
    return first_fitting([text(language, "sms.reply.exchange.not_this_week")])
