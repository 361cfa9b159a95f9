"""County time for the outreach services: a local moment, the weeks a window
touches, when a message queued now goes out, and the stamp in outbox keys."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.settings import QuietHours

UTC = ZoneInfo("UTC")


def local_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at `at` in the county, as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def weeks_between(start: datetime, end: datetime, tz: ZoneInfo) -> list[str]:
    """The ISO weeks (county time) touching [start, end], oldest first."""
    weeks: list[str] = []
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    while day <= last:
        year, number, _ = day.isocalendar()
        week = f"{year}-W{number:02d}"
        if week not in weeks:
            weeks.append(week)
        day += timedelta(days=1)
    return weeks


def sending_moment(quiet: QuietHours, tz: ZoneInfo, now: datetime) -> datetime:
    """When a message queued now goes out: now, or the end of the quiet hours."""
    local = now.astimezone(tz)
    if not quiet.contains(local.time()):
        return now
    end = datetime.combine(local.date(), quiet.end, tzinfo=tz)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def stamp(moment: datetime) -> str:
    """A moment in an outbox key: `YYYYmmddTHHMMZ`."""
    return f"{moment.astimezone(UTC):%Y%m%dT%H%MZ}"
