"""ISO weeks in the county's time zone: the unit of reports and exchanges."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"(\d{4})-W(\d{2})")


def iso_week(moment: datetime, tz: ZoneInfo) -> str:
    """The ISO week of an aware moment, as seen in `tz`: `2026-W48`."""
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def week_number(week: str) -> int:
    return int(parse_week(week)[1])


def parse_week(week: str) -> tuple[int, int]:
    match = _WEEK.fullmatch(week)
    if not match:
        raise ValueError(f"{week!r} is not an ISO week such as 2026-W48")
    return int(match.group(1)), int(match.group(2))


def week_monday(week: str) -> date:
    year, number = parse_week(week)
    return date.fromisocalendar(year, number, 1)


def previous_week(week: str) -> str:
    monday = week_monday(week) - timedelta(days=7)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"
