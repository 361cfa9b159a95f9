"""Moving or skipping this week's exchange, and a coordinator who stops receiving SMS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.core.weeks import iso_week, week_monday
from grids.exchanges.planner import QuietWindow
from grids.exchanges.slots import SlotRefused, check_slot, doctor_told_of_move, occurrence
from grids.models import (
    ExchangeAttendance,
    ExchangeOverride,
    Grid,
    Patient,
)
from grids.reports.errors import ExchangeTimeRefused, ReportRefused
from grids.reports.senders import GridRoster
from grids.storage.rows import get_or_create
from i18n import translate

# --- moving or skipping this week's exchange ---


@dataclass(frozen=True)
class ExchangeOutcome:
    week: str
    skipped: bool
    starts_at: datetime | None
    """Aware, in the county's time zone."""
    unchanged: bool
    members_told: int
    notices: list[Notice] = field(default_factory=list)


WEEKDAY_KEYS = tuple(f"sms.notice.weekday.{n}" for n in range(7))


class ExchangeAlreadyHeld(ReportRefused):
    """This week's exchange cannot be moved or skipped any more: its attendance is
    reported (`reason` `attended`, with `headcount`) or its time has come (`passed`,
    with `starts_at`, aware UTC)."""

    def __init__(
        self, reason: str, week: str, starts_at: datetime | None, headcount: int = 0
    ) -> None:
        super().__init__(f"the exchange of {week} is past: {reason}")
        self.reason = reason
        self.week = week
        self.starts_at = starts_at
        self.headcount = headcount


class MoveTooLate(ExchangeTimeRefused):
    """A move to a time already past; `example` is a later time this week that would be
    accepted (aware, county time), or None when none is left."""

    def __init__(self, starts_at: datetime, example: datetime | None) -> None:
        super().__init__("past", starts_at)
        self.example = example


EXAMPLE_TIME = time(19, 0)
EXAMPLE_CHECKS = 12
"""At most this many candidate examples are checked against the venue."""


def refuse_if_held(session: Session, grid: Grid, now: datetime, tz: ZoneInfo) -> None:
    """Raise `ExchangeAlreadyHeld` once this week's exchange took place or its time came:
    only what is still ahead may be moved or skipped."""
    week = iso_week(now, tz)
    override = session.scalar(
        select(ExchangeOverride).where(
            ExchangeOverride.grid_id == grid.id, ExchangeOverride.week == week
        )
    )
    starts = occurrence(grid, override, week, tz)
    attended = session.scalar(
        select(ExchangeAttendance.headcount).where(
            ExchangeAttendance.grid_id == grid.id, ExchangeAttendance.week == week
        )
    )
    if attended:
        raise ExchangeAlreadyHeld("attended", week, starts, attended)
    if starts is not None and starts <= now:
        raise ExchangeAlreadyHeld("passed", week, starts)


def _example_candidates(requested: time, now: datetime, tz: ZoneInfo) -> list[datetime]:
    """Later times this week to offer as an example: Sunday 19:00, the requested time on
    a later day, then each half hour of the days left."""
    local_now = now.astimezone(tz)
    monday = week_monday(iso_week(now, tz))
    days = [
        monday + timedelta(days=n)
        for n in range(7)
        if monday + timedelta(days=n) >= local_now.date()
    ]
    wanted = [(days[-1], EXAMPLE_TIME)] + [(day, requested) for day in days[1:]]
    wanted += [
        (day, time(hour, minute)) for day in days for hour in range(8, 21) for minute in (0, 30)
    ]
    candidates: list[datetime] = []
    for day, at in wanted:
        starts = datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)
        if starts > local_now and starts not in candidates:
            candidates.append(starts)
    return candidates


def later_example(
    session: Session,
    grid: Grid,
    requested: time,
    *,
    now: datetime,
    tz: ZoneInfo,
    quiet: QuietWindow | None,
) -> datetime | None:
    """A time later this week the exchange could be moved to, or None."""
    checked = 0
    for starts in _example_candidates(requested, now, tz):
        if quiet is None:
            return starts
        if checked == EXAMPLE_CHECKS:
            return None
        checked += 1
        try:
            check_slot(
                session,
                grid,
                weekday=starts.weekday(),
                start=starts.timetz().replace(tzinfo=None),
                quiet=quiet,
                tz=tz,
                week=iso_week(now, tz),
            )
        except SlotRefused:
            continue
        return starts
    return None


def _tell_members(
    roster: GridRoster,
    requester: Patient,
    week: str,
    source_ref: str,
    template: str,
    params: Callable[[Patient], dict[str, str]],
) -> list[Notice]:
    notices = []
    for member in roster.followed().values():
        if member.id == requester.id or not member.phone:
            continue
        notices.append(
            Notice.to_person(
                member,
                key=f"exchange:{roster.grid.id}:{week}:{source_ref}:{member.id}",
                template=template,
                params=params(member),
            )
        )
    return notices


def _override(session: Session, grid: Grid, week: str) -> tuple[ExchangeOverride, bool]:
    def find() -> ExchangeOverride | None:
        return session.scalar(
            select(ExchangeOverride)
            .where(ExchangeOverride.grid_id == grid.id, ExchangeOverride.week == week)
            .with_for_update()
        )

    return get_or_create(session, find, lambda: ExchangeOverride(grid_id=grid.id, week=week))


def exchange_start(
    *, at: time, weekday: int | None, days_ahead: int | None, now: datetime, tz: ZoneInfo
) -> datetime:
    """When `改 周四 19:00` / `改 明天 19:00` / `改 19:00` means, checked to be later
    this week; raises `ExchangeTimeRefused`."""
    local_now = now.astimezone(tz)
    week = iso_week(now, tz)
    if weekday is not None:
        day = week_monday(week) + timedelta(days=weekday)
    else:
        day = local_now.date() + timedelta(days=days_ahead or 0)
    starts = datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)
    if iso_week(starts, tz) != week:
        raise ExchangeTimeRefused("not_this_week", starts)
    if starts <= local_now:
        raise ExchangeTimeRefused("past", starts)
    return starts


def move_exchange(
    session: Session,
    roster: GridRoster,
    requester: Patient,
    *,
    at: time,
    weekday: int | None = None,
    days_ahead: int | None = None,
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None = None,
    quiet: QuietWindow | None = None,
) -> ExchangeOutcome:
    """Move this week's exchange to a later time this week; members are told, and the
    doctor when due to visit it. With `quiet`, a time in the quiet hours or one that
    double-books the venue is refused (`ExchangeTimeRefused`). Once this week's exchange
    took place or its time came, nothing changes (`ExchangeAlreadyHeld`)."""
    refuse_if_held(session, roster.grid, now, tz)
    try:
        starts = exchange_start(at=at, weekday=weekday, days_ahead=days_ahead, now=now, tz=tz)
    except ExchangeTimeRefused as refused:
        if refused.reason != "past":
            raise
        example = later_example(session, roster.grid, at, now=now, tz=tz, quiet=quiet)
        raise MoveTooLate(refused.starts_at, example) from None
    if quiet is not None:
        try:
            check_slot(
                session,
                roster.grid,
                weekday=starts.weekday(),
                start=starts.timetz().replace(tzinfo=None),
                quiet=quiet,
                tz=tz,
                week=iso_week(now, tz),
            )
        except SlotRefused as refused:
            raise ExchangeTimeRefused(refused.reason, starts, refused.clash) from None
    return _change_exchange(
        session,
        roster,
        requester,
        starts_at=starts,
        now=now,
        tz=tz,
        source_ref=source_ref,
        template="sms.notice.exchange_moved",
        params=lambda member: {
            "grid": roster.grid.code,
            "weekday": translate(WEEKDAY_KEYS[starts.weekday()], member.language),
            "time": f"{starts:%H:%M}",
        },
    )


def skip_exchange(
    session: Session,
    roster: GridRoster,
    requester: Patient,
    *,
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None = None,
) -> ExchangeOutcome:
    """No exchange this week; members are told. Refused (`ExchangeAlreadyHeld`) once
    this week's exchange took place or its time came."""
    refuse_if_held(session, roster.grid, now, tz)
    return _change_exchange(
        session,
        roster,
        requester,
        starts_at=None,
        now=now,
        tz=tz,
        source_ref=source_ref,
        template="sms.notice.exchange_skipped",
        params=lambda member: {"grid": roster.grid.code},
    )


def _change_exchange(
    session: Session,
    roster: GridRoster,
    requester: Patient,
    *,
    starts_at: datetime | None,
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None,
    template: str,
    params: Callable[[Patient], dict[str, str]],
) -> ExchangeOutcome:
    """Record this week's exchange as moved to `starts_at`, or skipped when None; members
    are told unless it already was so."""
    skipped = starts_at is None
    week = iso_week(now, tz)
    override, created = _override(session, roster.grid, week)
    unchanged = (
        not created and override.skipped == skipped and (skipped or override.starts_at == starts_at)
    )
    override.skipped = skipped
    override.starts_at = starts_at
    override.requested_by_id = requester.id
    override.created_at = now
    override.source_ref = source_ref
    session.flush()
    notices: list[Notice] = []
    if not unchanged:
        default_ref = "skip" if starts_at is None else f"{starts_at:%Y%m%dT%H%M}"
        notices = _tell_members(
            roster, requester, week, source_ref or default_ref, template, params
        )
        notices += doctor_told_of_move(
            session, roster.grid, week, starts_at, tz, source_ref or default_ref
        )
    return ExchangeOutcome(
        week=week,
        skipped=skipped,
        starts_at=starts_at,
        unchanged=unchanged,
        members_told=len(notices),
        notices=notices,
    )


# --- a coordinator who stops receiving SMS ---


def coordinator_opted_out(
    session: Session, roster: GridRoster, coordinator: Patient, *, day: date
) -> list[Notice]:
    """The grid's doctor is asked to choose a new coordinator; once a day at most, so a
    coordinator who opts out and back in again and again does not flood the doctor."""
    doctor = roster.grid.doctor
    if doctor is None or not doctor.phone:
        return []
    return [
        Notice.to_person(
            doctor,
            key=f"coordinator-opted-out:{roster.grid.id}:{coordinator.id}:{day.isoformat()}",
            template="sms.notice.coordinator_opted_out",
            params={"grid": roster.grid.code, "name": coordinator.name},
        )
    ]
