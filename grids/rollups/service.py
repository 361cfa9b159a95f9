"""Rollups of a week: computed live, or read from the snapshot of a closed week.

A week is computed from the stored data up to its end, whatever the wall
clock reads (acknowledgements of the week's urgent cases count whenever they
came). Closed weeks are snapshotted; recomputing the trailing weeks later
updates a snapshot only when the figures changed, and marks it revised.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, case, delete, null, select, type_coerce
from sqlalchemy.orm import Session

from config.settings import Settings
from grids.core.collector import collector_paused
from grids.core.errors import CatalogueError
from grids.rollups.indicators import (
    DOCTOR_ACK_TIMEOUT_S,
    LEVELS,
    GridPlace,
    Totals,
    document,
    indicators,
    roll_up,
)
from grids.rollups.models import RollupRefresh, RollupSnapshot
from grids.rollups.period import WeekPeriod, last_closed_week, shift_week, weeks_back
from grids.rollups.places import grid_count, grid_places
from grids.rollups.queries import grid_counts, member_counts_started, urgent_cases
from grids.storage.bulk import insert_many, update_many
from grids.storage.rows import forget_loaded

SCOPE_CHECK_ABOVE = 1000
"""Asked for more grids than this, check whether they are all of them (then count
without scoping each part of the statement)."""

TRAILING_WEEKS = 4
"""Closed weeks recomputed by each snapshot run, so late data reaches them."""


class RollupError(CatalogueError, ValueError):
    """A request the rollups cannot answer; `key` and `params` name the catalogue text."""


@dataclass(frozen=True)
class WeekRollup:
    """Every subject's indicators for one week."""

    period: WeekPeriod
    places: list[GridPlace]
    values: dict[tuple[str, str], dict[str, Any]]
    as_of: datetime
    provisional: bool
    revised: frozenset[tuple[str, str]] = frozenset()

    def document(self, level: str, code: str) -> dict[str, Any]:
        key = (level, code)
        if key not in self.values:
            raise RollupError("rollups.error.unknown_subject", level=level, code=code)
        return document(
            level,
            code,
            self.period.week,
            as_of=self.as_of,
            provisional=self.provisional,
            revised=key in self.revised,
            values=self.values[key],
        )


def doctor_timeout_of(settings: Settings) -> int:
    """Seconds an urgent case waits for the grid's doctor before it climbs past them:
    the first step of the county's escalation ladder (ESCALATION_TIMEOUTS doctor=)."""
    return settings.escalation_timeouts.minutes("doctor") * 60


def parse_period(week: str | None, now: datetime, tz: ZoneInfo) -> WeekPeriod:
    """The week asked for, or the last closed one; a future week is refused."""
    chosen = week or last_closed_week(now, tz)
    try:
        period = WeekPeriod(chosen, tz)
    except ValueError:
        raise RollupError("rollups.error.bad_week", week=chosen) from None
    if period.start > now:
        raise RollupError("rollups.error.future_week", week=chosen)
    return period


def check_level(level: str) -> None:
    if level not in LEVELS:
        raise RollupError("rollups.error.bad_level", level=level)


def week_totals(
    session: Session,
    period: WeekPeriod,
    places: list[GridPlace] | None = None,
    grid_ids: Collection[int] | None = None,
) -> tuple[list[GridPlace], dict[tuple[str, str], Totals]]:
    """The places counted (`places`, else every grid's) and the additive totals of every
    subject they add up to; `grid_ids`: the grids of `places`, None for every grid."""
    # A province's members are counted in slices on connections of their own; the
    # session reads the places and cases meanwhile.
    member_rows = member_counts_started(session, period, grid_ids)
    places = places if places is not None else grid_places(session)
    cases = urgent_cases(session, period, grid_ids)
    counts = grid_counts(session, period, grid_ids, member_rows=member_rows)
    return places, roll_up(places, counts, cases)


def compute_week(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
    places: list[GridPlace] | None = None,
) -> WeekRollup:
    """Every grid's counts in one statement, added up to doctors, townships and counties.

    With `places`, only those grids are counted (the subjects they add up to must
    consist of exactly those grids, e.g. one doctor's grids)."""
    grid_ids = None if places is None else [place.grid_id for place in places]
    if (
        grid_ids is not None
        and len(grid_ids) > SCOPE_CHECK_ABOVE
        and len(grid_ids) == grid_count(session)
    ):
        grid_ids = None  # every grid: no need to scope each part of the statement
    with collector_paused():  # a province's rollup is a million small records
        places, totals = week_totals(session, period, places, grid_ids)
        # Every subject exists in every week (roll_up gives each place's subjects totals).
        week_end = min(period.end, now)
        values = {
            key: indicators(total, week_end=week_end, doctor_timeout_s=doctor_timeout_s)
            for key, total in totals.items()
        }
    return WeekRollup(
        period=period,
        places=places,
        values=values,
        as_of=now,
        provisional=not period.closed_at(now),
    )


def subject_keys(place: GridPlace) -> list[tuple[str, str]]:
    keys = [("grid", place.grid_code), ("county", place.county_code)]
    if place.doctor_code:
        keys.append(("doctor", place.doctor_code))
    if place.township_code:
        keys.append(("township", place.township_code))
    return keys


def new_snapshot(
    week: str, level: str, code: str, values: dict[str, Any], now: datetime
) -> RollupSnapshot:
    """The first stored rollup of one subject for one week."""
    return RollupSnapshot(
        week=week,
        level=level,
        code=code,
        indicators=values,
        computed_at=now,
        first_computed_at=now,
        revisions=1,
    )


def snapshot_week(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> tuple[int, int]:
    """Store (or revise) the snapshot of a closed week: (new subjects, revised subjects).

    The week's provisional rows (`grids.rollups.refresh`) become its snapshot: counted
    as new, their figures recomputed now that the week is over."""
    if not period.closed_at(now):
        return 0, 0
    rollup = compute_week(session, period, now, doctor_timeout_s=doctor_timeout_s)
    session.flush()  # the rows are written by statements: the session's changes go first
    snapshots = RollupSnapshot.__table__
    # A provisional row's figures are replaced whatever they are: not read.
    stored_figures = type_coerce(
        case((RollupSnapshot.provisional, null()), else_=RollupSnapshot.indicators), JSON
    )
    stored = {
        (level, code): (row_id, provisional, figures, revisions)
        for row_id, level, code, provisional, figures, revisions in session.execute(
            select(
                RollupSnapshot.id,
                RollupSnapshot.level,
                RollupSnapshot.code,
                RollupSnapshot.provisional,
                stored_figures,
                RollupSnapshot.revisions,
            ).where(RollupSnapshot.week == period.week)
        )
    }
    new: list[dict[str, Any]] = []
    finalised: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for (level, code), values in rollup.values.items():
        row = stored.get((level, code))
        if row is None:
            new.append(
                {
                    "week": period.week,
                    "level": level,
                    "code": code,
                    "indicators": values,
                    "computed_at": now,
                    "first_computed_at": now,
                    "revisions": 1,
                    "provisional": False,
                }
            )
            continue
        row_id, provisional, figures, revisions = row
        if provisional:
            finalised.append(
                {
                    "id": row_id,
                    "indicators": values,
                    "computed_at": now,
                    "first_computed_at": now,
                    "revisions": 1,
                    "provisional": False,
                    "parts": None,
                }
            )
        elif figures != values:
            changed.append(
                {"id": row_id, "indicators": values, "computed_at": now, "revisions": revisions + 1}
            )
    connection = session.connection()
    insert_many(connection, snapshots, new)
    update_many(connection, snapshots, finalised)
    update_many(connection, snapshots, changed)
    forget_loaded(session, RollupSnapshot)
    created, revised = len(new) + len(finalised), len(changed)
    gone = [row[0] for key, row in stored.items() if row[1] and key not in rollup.values]
    if gone:
        session.execute(delete(RollupSnapshot).where(RollupSnapshot.id.in_(gone)))
    session.execute(delete(RollupRefresh).where(RollupRefresh.week == period.week))
    session.flush()
    return created, revised


def snapshot_closed_weeks(
    session: Session,
    now: datetime,
    tz: ZoneInfo,
    trailing: int = TRAILING_WEEKS,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> dict[str, tuple[int, int]]:
    """Snapshot the last closed week and recompute the `trailing` weeks before it."""
    last = last_closed_week(now, tz)
    return {
        week: snapshot_week(session, WeekPeriod(week, tz), now, doctor_timeout_s=doctor_timeout_s)
        for week in weeks_back(last, trailing)
    }


def rollup_document(
    session: Session,
    level: str,
    code: str,
    week: str | None,
    now: datetime,
    tz: ZoneInfo,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> dict[str, Any]:
    """The DESIGN §5 document: a closed week's snapshot when there is one, else computed now."""
    check_level(level)
    period = parse_period(week, now, tz)
    if period.closed_at(now):
        row = session.scalar(
            select(RollupSnapshot).where(
                RollupSnapshot.week == period.week,
                RollupSnapshot.level == level,
                RollupSnapshot.code == code,
                RollupSnapshot.provisional.is_(False),
            )
        )
        if row is not None:
            return document(
                level,
                code,
                period.week,
                as_of=row.computed_at,
                provisional=False,
                revised=row.revisions > 1,
                values=row.indicators,
            )
    # Only the grids that add up to this subject are counted.
    places = [
        place
        for place in grid_places(session, [(level, code)])
        if (level, code) in subject_keys(place)
    ]
    if not places:
        raise RollupError("rollups.error.unknown_subject", level=level, code=code)
    return compute_week(
        session, period, now, places=places, doctor_timeout_s=doctor_timeout_s
    ).document(level, code)


__all__ = [
    "TRAILING_WEEKS",
    "RollupError",
    "WeekRollup",
    "check_level",
    "compute_week",
    "doctor_timeout_of",
    "parse_period",
    "rollup_document",
    "shift_week",
    "snapshot_closed_weeks",
    "snapshot_week",
    "subject_keys",
]
