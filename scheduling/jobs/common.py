"""What every job shares: its result, the window of time it covers, reachable
recipients and enqueuing without reading rows back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute, Session

from config.settings import Settings
from grids.core.notices import Notice
from notifications import outbox
from scheduling.models import SchedulerRun

UTC = ZoneInfo("UTC")


@dataclass
class JobResult:
    queued: int = 0
    """Messages added to the outbox (a repeat of an earlier run adds none)."""
    cleared: int = 0
    """Queued messages that became pointless and were suppressed before sending."""
    missed: int = 0
    """Messages due while the scheduler was down and no longer useful: not sent."""
    skipped: int = 0
    """Recipients left out: opted out, number invalid, no phone, gone."""
    sent: int = 0
    """Messages handed to the provider (outbox-dispatch)."""
    note: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def window_start(session: Session, job_id: str, now: datetime, lookback: timedelta) -> datetime:
    """Where this run's window opens: the clock time of the job's last successful run
    before `now`, at most `lookback` ago (the catch-up horizon)."""
    last = session.scalar(
        select(func.max(SchedulerRun.at)).where(
            SchedulerRun.job_id == job_id, SchedulerRun.status == "ok", SchedulerRun.at < now
        )
    )
    horizon = now - lookback
    return horizon if last is None or last < horizon else last


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


def sending_moment(settings: Settings, now: datetime) -> datetime:
    """When a message queued now goes out: now, or the end of the quiet hours."""
    quiet = settings.quiet_hours
    local = now.astimezone(settings.tz)
    if not quiet.contains(local.time()):
        return now
    end = datetime.combine(local.date(), quiet.end, tzinfo=settings.tz)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def enqueue(session: Session, notices: Iterable[Notice], now: datetime) -> int:
    """Add `notices` to the outbox; returns how many were new."""
    return outbox.enqueue_count(session, notices, now=now)


def chunks(items: list[int], size: int = 1000) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def id_batches(session: Session, ids: Iterable[int]) -> Iterable[list[int]]:
    """`ids` sorted, in batches for `among`: one batch on PostgreSQL (a single array
    parameter), batches of 1,000 on SQLite (one parameter each)."""
    size = 100_000 if session.get_bind().dialect.name == "postgresql" else 1000
    return chunks(sorted(set(ids)), size)


def among(
    session: Session, column: ColumnElement[int] | QueryableAttribute[int], ids: list[int]
) -> ColumnElement[bool]:
    """`column IN ids`: on PostgreSQL `= ANY(array)`, one parameter however many ids
    (a query with 50,000 placeholders costs more to send than to run)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(Integer)))
    return column.in_(ids)
