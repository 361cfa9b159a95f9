"""The week a rollup is about, and the windows around it, in the county's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from grids.core.weeks import iso_week, parse_week, week_monday
from grids.rollups.indicators import (
    CONTROL_WINDOW_WEEKS,
    LOST_TO_FOLLOW_UP_WEEKS,
    NO_NEWS_WEEKS,
    OUTCOME_WEEKS,
    RED_URGENT_WEEKS,
)


def shift_week(week: str, weeks: int) -> str:
    monday = week_monday(week) + timedelta(weeks=weeks)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def weeks_back(week: str, count: int) -> list[str]:
    """`count` weeks ending with `week`, oldest first."""
    return [shift_week(week, -offset) for offset in range(count - 1, -1, -1)]


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class WeekPeriod:
    week: str
    tz: ZoneInfo

    def __post_init__(self) -> None:
        parse_week(self.week)  # raises ValueError with the expected form

    def start_of(self, week: str) -> datetime:
        """Monday 00:00 of `week` in the county, as UTC."""
        return _local_midnight(week_monday(week), self.tz)

    @property
    def start(self) -> datetime:
        return self.start_of(self.week)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 in the county, as UTC (exclusive)."""
        return self.start_of(shift_week(self.week, 1))

    @property
    def last_day(self) -> date:
        return week_monday(self.week) + timedelta(days=6)

    def window_start(self, weeks: int) -> str:
        """The first week of the `weeks` weeks ending with this one."""
        return shift_week(self.week, -(weeks - 1))

    @property
    def control_from(self) -> str:
        return self.window_start(CONTROL_WINDOW_WEEKS)

    @property
    def no_news_from(self) -> str:
        return self.window_start(NO_NEWS_WEEKS)

    @property
    def lost_from(self) -> str:
        return self.window_start(LOST_TO_FOLLOW_UP_WEEKS)

    @property
    def red_urgent_from(self) -> str:
        return self.window_start(RED_URGENT_WEEKS)

    @property
    def outcome_from(self) -> str:
        return self.window_start(OUTCOME_WEEKS)

    def closed_at(self, now: datetime) -> bool:
        return now >= self.end


def current_week(now: datetime, tz: ZoneInfo) -> str:
    return iso_week(now, tz)


def last_closed_week(now: datetime, tz: ZoneInfo) -> str:
    return shift_week(iso_week(now, tz), -1)
