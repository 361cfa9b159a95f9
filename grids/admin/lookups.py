"""Reading the roster for the administrative operations: rows by code, and the places
of grids and doctors that `grids.admin.rules` checks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.admin.rules import DoctorSlot, GridPlace
from grids.core.errors import CatalogueError
from grids.core.vocabulary import DoctorStatus
from grids.models import Doctor, Facility, Grid, Membership, Patient


class NotFound(CatalogueError, LookupError):
    """A code that names nothing; `key` and `params` name the catalogue text."""


def load_grid(session: Session, code: str) -> Grid:
    grid = session.scalar(select(Grid).where(Grid.code == code))
    if grid is None:
        raise NotFound("admin.error.no_grid", code=code)
    return grid


def load_doctor(session: Session, code: str) -> Doctor:
    doctor = session.scalar(select(Doctor).where(Doctor.code == code))
    if doctor is None:
        raise NotFound("admin.error.no_doctor", code=code)
    return doctor


def load_patient(session: Session, code: str) -> Patient:
    patient = session.scalar(select(Patient).where(Patient.code == code))
    if patient is None:
        raise NotFound("admin.error.no_patient", code=code)
    return patient


def township_of(session: Session, facility_id: int) -> int | None:
    return session.scalar(select(Facility.parent_id).where(Facility.id == facility_id))


def current_memberships(session: Session, grid_id: int) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.grid_id == grid_id, Membership.left_at.is_(None))
            .order_by(Membership.seat)
        )
    )


def place_of(session: Session, grid: Grid, members: int | None = None) -> GridPlace:
    if members is None:
        members = (
            session.scalar(
                select(func.count()).where(
                    Membership.grid_id == grid.id, Membership.left_at.is_(None)
                )
            )
            or 0
        )
    return GridPlace(
        grid.id,
        grid.code,
        grid.facility_id,
        township_of(session, grid.facility_id),
        grid.condition,
        members,
    )


def slot_of(session: Session, doctor: Doctor) -> DoctorSlot:
    grids = session.scalar(select(func.count()).where(Grid.doctor_id == doctor.id)) or 0
    return DoctorSlot(
        doctor.id,
        doctor.code,
        doctor.facility_id,
        township_of(session, doctor.facility_id),
        grids,
        doctor.status == DoctorStatus.ACTIVE,
    )


def grid_loads(session: Session, doctor_ids: set[int]) -> dict[int | None, int]:
    """Doctor id -> grids he serves; a doctor with none is left out."""
    return dict(
        session.execute(
            select(Grid.doctor_id, func.count())
            .where(Grid.doctor_id.in_(doctor_ids))
            .group_by(Grid.doctor_id)
        )
        .tuples()
        .all()
    )


def slots_of(session: Session, doctors: Sequence[Doctor]) -> dict[int, DoctorSlot]:
    """`slot_of` for many doctors in two queries."""
    loads = grid_loads(session, {d.id for d in doctors})
    parents = parents_of(session, {d.facility_id for d in doctors})
    return {
        d.id: DoctorSlot(
            d.id,
            d.code,
            d.facility_id,
            parents.get(d.facility_id),
            loads.get(d.id, 0),
            d.status == DoctorStatus.ACTIVE,
        )
        for d in doctors
    }


def places_of(session: Session, grids: Sequence[Grid]) -> dict[int, GridPlace]:
    """`place_of` for many grids (members not counted: a doctor's checks need none)."""
    parents = parents_of(session, {g.facility_id for g in grids})
    return {
        g.id: GridPlace(g.id, g.code, g.facility_id, parents.get(g.facility_id), g.condition, 0)
        for g in grids
    }


def parents_of(session: Session, facility_ids: set[int]) -> dict[int, int | None]:
    return dict(
        session.execute(
            select(Facility.id, Facility.parent_id).where(Facility.id.in_(facility_ids))
        )
        .tuples()
        .all()
    )
