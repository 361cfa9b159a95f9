"""Standing exchange slots in the database: planning them, setting one, checking a
move, and when a grid's exchange of a given week takes place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.core.weeks import iso_week, week_monday
from grids.exchanges.models import DoctorVisit, ExchangePreference
from grids.exchanges.planner import (
    DEFAULT_MINUTES,
    GridToPlace,
    Plan,
    QuietWindow,
    VenueBook,
    minute_of,
    plan,
    rota_week,
    slot_problem,
)
from grids.models import Doctor, ExchangeOverride, Facility, Grid
from i18n import translate


class SlotRefused(Exception):
    """A slot cannot be held: `reason` is `bad_weekday`, `quiet_hours` or `venue_taken`
    (then `clash` names the grid already there)."""

    def __init__(self, reason: str, clash: str | None = None) -> None:
        super().__init__(f"slot refused: {reason}" + (f" (grid {clash})" if clash else ""))
        self.reason = reason
        self.clash = clash


class UnknownGrid(LookupError):
    pass


class UnknownFacility(LookupError):
    pass


def venue_name(grid: Grid, facility: Facility) -> str:
    """Where the grid meets: its own venue, or its village clinic."""
    return grid.exchange_venue or facility.name


def _venue_key(facility_id: int, venue: str) -> str:
    # Venues are places of one village: "村委会" in two villages are two rooms.
    return f"{facility_id}:{venue}"


def facility_ids_under(session: Session, code: str) -> list[int]:
    """The facility `code` and every facility below it."""
    root = session.scalar(select(Facility).where(Facility.code == code))
    if root is None:
        raise UnknownFacility(code)
    children: dict[int | None, list[int]] = {}
    for facility_id, parent_id in session.execute(select(Facility.id, Facility.parent_id)):
        children.setdefault(parent_id, []).append(facility_id)
    found, todo = [], [root.id]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


@dataclass(frozen=True)
class _Loaded:
    grids: list[Grid]
    places: list[GridToPlace]
    venues: dict[str, str]
    """Venue key -> the name people read."""


def _load(session: Session, facility_ids: Sequence[int] | None) -> _Loaded:
    query = (
        select(Grid, Facility, Doctor.code, ExchangePreference.weekdays)
        .join(Facility, Facility.id == Grid.facility_id)
        .outerjoin(Doctor, Doctor.id == Grid.doctor_id)
        .outerjoin(ExchangePreference, ExchangePreference.grid_id == Grid.id)
        .where(Grid.closed_at.is_(None))  # a grid closed by a merge meets no more
        .order_by(Grid.code)
    )
    if facility_ids is not None:
        # The doctors' other grids come too: the rota and the venues span them.
        doctors = select(Grid.doctor_id).where(
            Grid.facility_id.in_(facility_ids), Grid.doctor_id.is_not(None)
        )
        query = query.where(Grid.facility_id.in_(facility_ids) | Grid.doctor_id.in_(doctors))
    grids, places, venues = [], [], {}
    for grid, facility, doctor_code, weekdays in session.execute(query):
        name = venue_name(grid, facility)
        key = _venue_key(facility.id, name)
        venues[key] = name
        grids.append(grid)
        places.append(
            GridToPlace(
                code=grid.code,
                venue=key,
                doctor_code=doctor_code,
                minutes=grid.exchange_minutes or DEFAULT_MINUTES,
                preferred_weekdays=tuple(weekdays or ()),
                weekday=grid.exchange_weekday,
                start=grid.exchange_time,
            )
        )
    return _Loaded(grids, places, venues)


def plan_exchanges(
    session: Session, quiet: QuietWindow, *, facility_code: str | None = None, apply: bool
) -> Plan:
    """Plan slots for grids without one (under `facility_code` when given) and the
    rota of their doctors; with `apply`, store both (no commit)."""
    facility_ids = facility_ids_under(session, facility_code) if facility_code else None
    loaded = _load(session, facility_ids)
    in_scope = (
        {grid.code for grid in loaded.grids if grid.facility_id in set(facility_ids)}
        if facility_ids is not None
        else None
    )
    places = [
        place
        for place in loaded.places
        if in_scope is None or place.code in in_scope or place.weekday is not None
    ]
    result = plan(places, quiet)
    result.slots = [replace(slot, venue=loaded.venues[slot.venue]) for slot in result.slots]
    if apply:
        by_code = {grid.code: grid for grid in loaded.grids}
        for slot in result.slots:
            grid = by_code[slot.grid_code]
            grid.exchange_weekday = slot.weekday
            grid.exchange_time = time(slot.start_minute // 60, slot.start_minute % 60)
        store_rota(session, loaded.grids, [(v.grid_code, v.week) for v in result.rota])
        session.flush()
    return result


def store_rota(session: Session, grids: Iterable[Grid], visits: Iterable[tuple[str, int]]) -> None:
    """Replace the stored rota of `grids` with `visits` (grid code, rota week)."""
    by_code = {grid.code: grid for grid in grids}
    session.execute(
        delete(DoctorVisit).where(DoctorVisit.grid_id.in_([g.id for g in by_code.values()]))
    )
    for code, week in visits:
        grid = by_code[code]
        if grid.doctor_id is not None:
            session.add(DoctorVisit(grid_id=grid.id, doctor_id=grid.doctor_id, rota_week=week))


def _book_of_week(
    session: Session, grid: Grid, week: str | None, tz: ZoneInfo
) -> tuple[VenueBook, str]:
    """What the venue of `grid` holds: the standing slots or, for `week`, the week's
    actual exchanges (moves and skips included), other grids only."""
    facility = session.get(Facility, grid.facility_id)
    assert facility is not None
    key = _venue_key(facility.id, venue_name(grid, facility))
    book = VenueBook()
    others = session.execute(
        select(Grid, Facility)
        .join(Facility, Facility.id == Grid.facility_id)
        .where(Grid.facility_id == grid.facility_id, Grid.id != grid.id)
    ).all()
    overrides: dict[int, ExchangeOverride] = {}
    if week is not None and others:
        overrides = {
            o.grid_id: o
            for o in session.scalars(
                select(ExchangeOverride).where(
                    ExchangeOverride.week == week,
                    ExchangeOverride.grid_id.in_([g.id for g, _ in others]),
                )
            )
        }
    for other, other_facility in others:
        if _venue_key(other_facility.id, venue_name(other, other_facility)) != key:
            continue
        minutes = other.exchange_minutes or DEFAULT_MINUTES
        if week is None:
            if other.exchange_weekday is not None and other.exchange_time is not None:
                book.add(
                    key, other.exchange_weekday, minute_of(other.exchange_time), minutes, other.code
                )
            continue
        starts = occurrence(other, overrides.get(other.id), week, tz)
        if starts is not None:
            local = starts.astimezone(tz)
            book.add(key, local.weekday(), local.hour * 60 + local.minute, minutes, other.code)
    return book, key


def check_slot(
    session: Session,
    grid: Grid,
    *,
    weekday: int,
    start: time,
    quiet: QuietWindow,
    tz: ZoneInfo,
    week: str | None = None,
) -> None:
    """Raise `SlotRefused` unless `grid` may meet on `weekday` at `start` (every week,
    or only in `week`)."""
    minutes = grid.exchange_minutes or DEFAULT_MINUTES
    begin = minute_of(start)
    book, key = _book_of_week(session, grid, week, tz)
    clash = book.clash(key, weekday, begin, minutes) if 0 <= weekday <= 6 else None
    problem = slot_problem(
        weekday=weekday, begin=begin, minutes=minutes, quiet=quiet, venue_clash=clash
    )
    if problem is not None:
        raise SlotRefused(problem, clash)


def set_slot(
    session: Session,
    grid_code: str,
    *,
    weekday: int,
    start: time,
    venue: str | None,
    quiet: QuietWindow,
    tz: ZoneInfo,
) -> Grid:
    """An administrator sets a grid's standing slot; checked like a plan (no commit)."""
    grid = session.scalar(select(Grid).where(Grid.code == grid_code))
    if grid is None:
        raise UnknownGrid(grid_code)
    previous_venue = grid.exchange_venue
    if venue is not None:
        grid.exchange_venue = venue.strip() or None
    try:
        check_slot(session, grid, weekday=weekday, start=start, quiet=quiet, tz=tz)
    except SlotRefused:
        grid.exchange_venue = previous_venue
        raise
    grid.exchange_weekday = weekday
    grid.exchange_time = start.replace(second=0, microsecond=0)
    session.flush()
    return grid


def occurrence(
    grid: Grid, override: ExchangeOverride | None, week: str, tz: ZoneInfo
) -> datetime | None:
    """When the grid's exchange of `week` starts (aware, UTC), or None: skipped, or no slot."""
    return occurrence_start(
        grid.exchange_weekday,
        grid.exchange_time,
        week,
        tz,
        skipped=override.skipped if override is not None else False,
        moved_to=override.starts_at if override is not None else None,
    )


def occurrence_start(
    weekday: int | None,
    start: time | None,
    week: str,
    tz: ZoneInfo,
    *,
    skipped: bool = False,
    moved_to: datetime | None = None,
) -> datetime | None:
    """The start of a grid's exchange of `week` from its standing slot and the week's
    override (skipped, or moved to `moved_to`); None when there is none."""
    if skipped:
        return None
    if moved_to is not None:
        return moved_to
    if weekday is None or start is None:
        return None
    day = week_monday(week) + timedelta(days=weekday)
    return datetime.combine(day, start, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def doctor_visits_week(session: Session, grid: Grid, week: str) -> bool:
    """Whether the grid's doctor is on the rota for the grid's exchange of `week`."""
    visit = session.scalar(select(DoctorVisit).where(DoctorVisit.grid_id == grid.id))
    return visit is not None and visit.rota_week == rota_week(week_monday(week).toordinal())


def doctor_told_of_move(
    session: Session, grid: Grid, week: str, starts_at: datetime | None, tz: ZoneInfo, ref: str
) -> list[Notice]:
    """The doctor due to visit this week's exchange follows it to its new time."""
    if grid.doctor_id is None or not doctor_visits_week(session, grid, week):
        return []
    doctor = session.get(Doctor, grid.doctor_id)
    if doctor is None or not doctor.phone:
        return []
    if starts_at is None:
        template, params = "sms.notice.exchange_skipped_doctor", {"grid": grid.code}
    else:
        local = starts_at.astimezone(tz)
        template = "sms.notice.exchange_moved_doctor"
        params = {
            "grid": grid.code,
            "weekday": translate(f"sms.notice.weekday.{local.weekday()}", doctor.language),
            "time": f"{local:%H:%M}",
        }
    key = f"exchange-doctor:{grid.id}:{week}:{ref}"
    return [Notice.to_person(doctor, key=key, template=template, params=params)]


def this_week(now: datetime, tz: ZoneInfo) -> str:
    return iso_week(now, tz)
