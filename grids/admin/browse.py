"""The grid browser: grids filtered by place, condition, doctor and what they lack, one
page at a time; a grid with its members and history. Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased

from grids import audit
from grids.core.limits import DOCTOR_GRID_CAPACITY, GRID_CAPACITY
from grids.formation.planner_records import SMALL_GRID_BELOW
from grids.models import Doctor, Facility, Grid, Membership, Patient

PAGE_SIZE = 50
CAPACITY_FILTERS = ("full", "small", "doctor_over")


@dataclass(frozen=True)
class GridFilter:
    township: str | None = None
    clinic: str | None = None
    condition: str | None = None
    doctor: str | None = None
    needs_coordinator: bool = False
    no_doctor: bool = False
    capacity: str | None = None
    """`full` (20 members), `small` (fewer than a peer group), `doctor_over` (its doctor
    holds more than 15 grids)."""
    page: int = 1


@dataclass
class GridRow:
    code: str
    clinic: str
    clinic_name: str
    township: str | None
    condition: str
    doctor: str | None
    doctor_name: str | None
    has_coordinator: bool
    members: int
    version: int


@dataclass
class GridPage:
    rows: list[GridRow] = field(default_factory=list)
    page: int = 1
    more: bool = False


def _members_count() -> Any:
    return (
        select(func.count())
        .where(Membership.grid_id == Grid.id, Membership.left_at.is_(None))
        .correlate(Grid)
        .scalar_subquery()
    )


def browse(session: Session, wanted: GridFilter, facility_ids: set[int] | None = None) -> GridPage:
    """One page of open grids (code order) matching `wanted`, within `facility_ids` if
    given; a grid closed by a merge is left out."""
    clinic = aliased(Facility)
    township = aliased(Facility)
    members = _members_count().label("members")
    query: Select[Any] = (
        select(
            Grid.code,
            clinic.code,
            clinic.name,
            township.code,
            Grid.condition,
            Doctor.code,
            Doctor.name,
            Grid.coordinator_id,
            members,
            Grid.version,
        )
        .join(clinic, clinic.id == Grid.facility_id)
        .outerjoin(township, township.id == clinic.parent_id)
        .outerjoin(Doctor, Doctor.id == Grid.doctor_id)
    )
    conditions: list[ColumnElement[bool]] = [Grid.closed_at.is_(None)]
    if facility_ids is not None:
        conditions.append(Grid.facility_id.in_(facility_ids))
    # Codes become ids first, so each filter uses the index on its grid column.
    if wanted.township:
        centre = select(Facility.id).where(Facility.code == wanted.township).scalar_subquery()
        clinics = select(Facility.id).where(Facility.parent_id == centre)
        conditions.append(Grid.facility_id.in_(clinics))
    if wanted.clinic:
        place = select(Facility.id).where(Facility.code == wanted.clinic).scalar_subquery()
        conditions.append(Grid.facility_id == place)
    if wanted.condition:
        conditions.append(Grid.condition == wanted.condition)
    if wanted.doctor:
        doctor = select(Doctor.id).where(Doctor.code == wanted.doctor).scalar_subquery()
        conditions.append(Grid.doctor_id == doctor)
    if wanted.needs_coordinator:
        conditions.append(Grid.coordinator_id.is_(None))
    if wanted.no_doctor:
        conditions.append(Grid.doctor_id.is_(None))
    if wanted.capacity == "full":
        conditions.append(_members_count() >= GRID_CAPACITY)
    elif wanted.capacity == "small":
        conditions.append(_members_count().between(1, SMALL_GRID_BELOW - 1))
    elif wanted.capacity == "doctor_over":
        loads = (
            select(Grid.doctor_id)
            .where(Grid.doctor_id.is_not(None))
            .group_by(Grid.doctor_id)
            .having(func.count() > DOCTOR_GRID_CAPACITY)
        )
        conditions.append(Grid.doctor_id.in_(loads))
    page = max(1, wanted.page)
    rows = session.execute(
        query.where(*conditions)
        .order_by(Grid.code)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return GridPage(
        rows=[
            GridRow(
                code=r[0],
                clinic=r[1],
                clinic_name=r[2],
                township=r[3],
                condition=r[4],
                doctor=r[5],
                doctor_name=r[6],
                has_coordinator=r[7] is not None,
                members=r[8],
                version=r[9],
            )
            for r in rows[:PAGE_SIZE]
        ],
        page=page,
        more=len(rows) > PAGE_SIZE,
    )


@dataclass
class MemberRow:
    seat: int
    code: str
    name: str
    phone: str | None
    status: str
    volunteer: bool
    coordinator: bool
    joined_at: str
    deputy: bool = False


def members(session: Session, grid: Grid) -> list[MemberRow]:
    rows = session.execute(
        select(Membership.seat, Membership.joined_at, Patient)
        .join(Patient, Patient.id == Membership.patient_id)
        .where(Membership.grid_id == grid.id, Membership.left_at.is_(None))
        .order_by(Membership.seat)
    ).all()
    return [
        MemberRow(
            seat=seat,
            code=patient.code,
            name=patient.name,
            phone=patient.phone,
            status=patient.status.value,
            volunteer=patient.volunteer,
            coordinator=patient.id == grid.coordinator_id,
            joined_at=joined.date().isoformat(),
            deputy=patient.id == grid.deputy_id,
        )
        for seat, joined, patient in rows
    ]


def past_members(session: Session, grid: Grid, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Membership.seat,
            Membership.joined_at,
            Membership.left_at,
            Membership.left_reason,
            Patient.code,
        )
        .join(Patient, Patient.id == Membership.patient_id)
        .where(Membership.grid_id == grid.id, Membership.left_at.is_not(None))
        .order_by(Membership.left_at.desc())
        .limit(limit)
    ).all()
    return [
        {
            "seat": seat,
            "patient": code,
            "joined": joined.date().isoformat(),
            "left": left.date().isoformat(),
            "reason": reason,
        }
        for seat, joined, left, reason, code in rows
    ]


def history(session: Session, grid: Grid) -> list[dict[str, Any]]:
    """The change-sets that touched the grid, newest first."""
    return [
        {
            "id": c.id,
            "at": c.at.isoformat(),
            "actor": c.actor,
            "operation": c.operation,
            "reason": c.reason,
            "undone_by": c.undone_by_id,
        }
        for c in audit.change_sets_touching(session, "grids", grid.id)
    ]
