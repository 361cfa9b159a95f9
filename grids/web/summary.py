"""County-wide counts: what the landing page and `/api/v1/summary` show. No personal data."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.vocabulary import DoctorStatus
from grids.models import Doctor, Facility, Grid, Membership, Patient


@dataclass(frozen=True)
class CountySummary:
    facilities_by_level: dict[str, int]
    doctors: int
    patients_by_status: dict[str, int]
    grids: int
    grids_by_condition: dict[str, int]
    members: int
    grids_without_doctor: int
    grids_without_coordinator: int

    @property
    def facilities(self) -> int:
        return sum(self.facilities_by_level.values())

    @property
    def is_empty(self) -> bool:
        return self.facilities == 0


def county_summary(session: Session) -> CountySummary:
    def grouped(column, *where) -> dict[str, int]:  # type: ignore[no-untyped-def]
        rows = session.execute(select(column, func.count()).where(*where).group_by(column))
        return {str(key): count for key, count in rows}

    def count(*where) -> int:  # type: ignore[no-untyped-def]
        return session.scalar(select(func.count()).where(*where)) or 0

    return CountySummary(
        facilities_by_level=grouped(Facility.level),
        doctors=count(Doctor.status == DoctorStatus.ACTIVE),
        patients_by_status=grouped(Patient.status),
        grids=count(Grid.closed_at.is_(None)),
        grids_by_condition=grouped(Grid.condition, Grid.closed_at.is_(None)),
        members=count(Membership.left_at.is_(None)),
        grids_without_doctor=count(Grid.doctor_id.is_(None), Grid.closed_at.is_(None)),
        grids_without_coordinator=count(Grid.coordinator_id.is_(None), Grid.closed_at.is_(None)),
    )
