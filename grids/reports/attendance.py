"""Exchange attendance reported by the coordinator (`到 15`, `到 1 2 3`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Update,
    bindparam,
)
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grids.core.weeks import iso_week
from grids.models import (
    ExchangeAttendance,
)
from grids.reports.errors import HeadcountTooLarge
from grids.reports.senders import GridRoster
from grids.storage.rows import forget_loaded, rows_matched, table_of

# --- exchange attendance ---


@dataclass(frozen=True)
class AttendanceOutcome:
    week: str
    amended: bool
    headcount: int
    seats: tuple[int, ...]


def record_attendance(
    session: Session,
    roster: GridRoster,
    *,
    headcount: int,
    seats: Sequence[int] = (),
    now: datetime,
    tz: ZoneInfo,
    source_ref: str | None = None,
) -> AttendanceOutcome:
    """This week's exchange attendance: a headcount, or the seats present."""
    present = tuple(sorted(set(seats)))
    if present:
        roster.check_seats(present)
        headcount = len(present)
    elif headcount < 0 or headcount > len(roster.members):
        raise HeadcountTooLarge(headcount, len(roster.members))
    week = iso_week(now, tz)
    reported = {
        "headcount": headcount,
        "seats": list(present) or None,
        "reported_at": now,
        "source_ref": source_ref,
    }
    session.flush()  # written by statements: the session's changes go first
    amended = _amend_attendance(session, roster.grid.id, week, reported)
    if not amended:
        try:
            with session.begin_nested():
                session.execute(
                    table_of(ExchangeAttendance).insert(),
                    {"grid_id": roster.grid.id, "week": week, **reported},
                )
        except IntegrityError:
            # Another text for the same grid and week created it a moment ago.
            amended = _amend_attendance(session, roster.grid.id, week, reported)
            if not amended:
                raise
    return AttendanceOutcome(week=week, amended=amended, headcount=headcount, seats=present)


ATTENDANCE_VALUES = ("headcount", "seats", "reported_at", "source_ref")


def _attendance_update() -> Update:
    table = table_of(ExchangeAttendance)
    return (
        sql_update(table)
        .where(table.c.grid_id == bindparam("grid"), table.c.week == bindparam("of_week"))
        .values({name: bindparam(name) for name in ATTENDANCE_VALUES})
    )


_AMEND_ATTENDANCE = _attendance_update()


def _amend_attendance(session: Session, grid_id: int, week: str, reported: dict[str, Any]) -> bool:
    """Replace the week's attendance if it was reported already; the row stays locked."""
    amended = session.execute(_AMEND_ATTENDANCE, {"grid": grid_id, "of_week": week, **reported})
    forget_loaded(session, ExchangeAttendance)
    return rows_matched(amended) > 0
