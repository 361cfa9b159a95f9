"""ISO weeks in the county's time zone: the unit of reports and exchanges."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# ASCII digits only: a regex digit also matches full-width ones, which name no stored week.
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")


def iso_week(moment: datetime, tz: ZoneInfo) -> str:
    """The ISO week of an aware moment, as seen in `tz`: `2026-W48`."""
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def week_number(week: str) -> int:
    return int(parse_week(week)[1])


def weeks_in_year(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last."""
    return date(year, 12, 28).isocalendar()[1]


def parse_week(week: str) -> tuple[int, int]:
    """(year, week) of a week that exists: `2026-W53` does, `2027-W53` and `2026-W00` do not."""
    match = _WEEK.fullmatch(week)
    if not match:
        raise ValueError(f"{week!r} is not an ISO week such as 2026-W48")
    year, number = int(match.group(1)), int(match.group(2))
    if not 1 <= year <= 9998:
        raise ValueError(f"{week!r} is out of range: years run from 0001 to 9998")
    if not 1 <= number <= weeks_in_year(year):
        raise ValueError(f"{week!r} does not exist: {year} has weeks W01 to W{weeks_in_year(year)}")
    return year, number


def week_monday(week: str) -> date:
    year, number = parse_week(week)
    return date.fromisocalendar(year, number, 1)


def previous_week(week: str) -> str:
    monday = week_monday(week) - timedelta(days=7)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"
