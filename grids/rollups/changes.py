"""Which grids changed since a provisional snapshot was last refreshed.

Each source of the indicators has a change time (a reading's `reported_at`, a
weekly report's `last_received_at`, a membership's `joined_at` and `left_at`, a
patient's `updated_at`, ...). A refresh keeps, per column, the newest change time
it saw (its `marks`); the next one asks for the rows past each mark and the grids
they belong to: directly, or through the memberships of the members they are
about. Marks are per column, so columns written by different clocks never mix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from grids.escalation.models import Escalation
from grids.followups.models import Followup
from grids.models import (
    ExchangeAttendance,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
from grids.rollups.period import WeekPeriod

PATIENT_CHUNK = 1000


@dataclass(frozen=True)
class Source:
    """One change-time column, and where its rows say which grid or member they touch."""

    name: str
    changed_at: Any
    grid: Any | None = None
    patient: Any | None = None


SOURCES: tuple[Source, ...] = (
    Source("readings", Reading.reported_at, patient=Reading.patient_id),
    Source("member_reports", MemberReport.updated_at, patient=MemberReport.patient_id),
    Source("weekly_reports", WeeklyReport.last_received_at, grid=WeeklyReport.grid_id),
    Source("attendance", ExchangeAttendance.reported_at, grid=ExchangeAttendance.grid_id),
    Source(
        "urgent_received",
        UrgentReport.received_at,
        grid=UrgentReport.grid_id,
        patient=UrgentReport.patient_id,
    ),
    Source("urgent_acknowledged", UrgentReport.acknowledged_at, grid=UrgentReport.grid_id),
    Source("escalations", Escalation.updated_at, grid=Escalation.grid_id),
    Source("joined", Membership.joined_at, grid=Membership.grid_id),
    Source("left", Membership.left_at, grid=Membership.grid_id),
    Source("patients", Patient.updated_at, patient=Patient.id),
    Source("followups", Followup.recorded_at, grid=Followup.grid_id, patient=Followup.patient_id),
)


def current_marks(session: Session) -> dict[str, str | None]:
    """The newest change time of every source now (ISO), in one statement."""
    statement = select(
        *(
            select(func.max(source.changed_at)).scalar_subquery().label(source.name)
            for source in SOURCES
        )
    )
    row = session.execute(statement).one()
    return {source.name: _iso(value) for source, value in zip(SOURCES, row, strict=True)}


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def changed_grids(
    session: Session, period: WeekPeriod, marks: Mapping[str, str | None]
) -> set[int]:
    """Grids with a row changed after `marks` (members mapped to the grids they were in
    during the week)."""
    grids: set[int] = set()
    patients: set[int] = set()
    for source in SOURCES:
        mark = marks.get(source.name)
        after = (
            source.changed_at.is_not(None)
            if mark is None
            else source.changed_at > datetime.fromisoformat(mark)
        )
        columns = [column for column in (source.grid, source.patient) if column is not None]
        for row in session.execute(select(*columns).where(after)):
            values = dict(zip(columns, row, strict=True))
            if source.grid is not None and values[source.grid] is not None:
                grids.add(int(values[source.grid]))
            if source.patient is not None and values[source.patient] is not None:
                patients.add(int(values[source.patient]))
    return grids | grids_of(session, period, patients)


def grids_of(session: Session, period: WeekPeriod, patients: Iterable[int]) -> set[int]:
    """The grids these members belonged to at some time in the week."""
    ids = sorted(set(patients))
    grids: set[int] = set()
    for start in range(0, len(ids), PATIENT_CHUNK):
        chunk = ids[start : start + PATIENT_CHUNK]
        grids.update(
            session.scalars(
                select(Membership.grid_id).where(
                    Membership.patient_id.in_(chunk),
                    Membership.joined_at < period.end,
                    or_(Membership.left_at.is_(None), Membership.left_at >= period.start),
                )
            )
        )
    return grids


def open_case_grids(session: Session, period: WeekPeriod) -> set[int]:
    """Grids with an urgent case of the week nobody has acknowledged: its figures (open,
    past the doctor) move with the clock even when no row changes."""
    return {
        grid_id
        for grid_id in session.scalars(
            select(UrgentReport.grid_id)
            .where(
                UrgentReport.received_at >= period.start,
                UrgentReport.received_at < period.end,
                UrgentReport.acknowledged_at.is_(None),
                UrgentReport.grid_id.is_not(None),
            )
            .distinct()
        )
        if grid_id is not None
    }
