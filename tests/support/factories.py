"""Small rosters built straight into the database, for integration and end-to-end tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from grids.core.vocabulary import FacilityLevel, PatientStatus
from grids.models import Doctor, Facility, Grid, Membership, Patient

_counter = itertools.count(1)


def _next() -> int:
    return next(_counter)


def phone(n: int | None = None) -> str:
    """A valid Chinese mobile in E.164, distinct for each n."""
    number = _next() if n is None else n
    return f"+86139{number:08d}"


def facility_tree(session: Session, prefix: str = "T") -> dict[str, Facility]:
    """County hospital -> township centre -> two village clinics."""
    county = Facility(
        code=f"{prefix}C", name="介休市人民医院", level=FacilityLevel.COUNTY_HOSPITAL, phone=phone()
    )
    session.add(county)
    session.flush()
    township = Facility(
        code=f"{prefix}T1",
        name="义安镇卫生院",
        level=FacilityLevel.TOWNSHIP_CENTER,
        parent_id=county.id,
        phone=phone(),
    )
    session.add(township)
    session.flush()
    clinic_a = Facility(
        code=f"{prefix}V1",
        name="东村卫生室",
        level=FacilityLevel.VILLAGE_CLINIC,
        parent_id=township.id,
        phone=phone(),
    )
    clinic_b = Facility(
        code=f"{prefix}V2",
        name="西村卫生室",
        level=FacilityLevel.VILLAGE_CLINIC,
        parent_id=township.id,
        phone=phone(),
    )
    session.add_all([clinic_a, clinic_b])
    session.flush()
    return {"county": county, "township": township, "clinic_a": clinic_a, "clinic_b": clinic_b}


def doctor(
    session: Session,
    facility: Facility,
    *,
    name: str = "王医生",
    language: str = "zh_CN",
    code: str | None = None,
) -> Doctor:
    n = _next()
    record = Doctor(
        code=code or f"D{n:05d}",
        name=name,
        phone=phone(n),
        facility_id=facility.id,
        language=language,
    )
    session.add(record)
    session.flush()
    return record


def patient(
    session: Session,
    facility: Facility,
    *,
    condition: str = "hypertension",
    volunteer: bool = False,
    name: str | None = None,
    language: str = "zh_CN",
    status: PatientStatus = PatientStatus.ACTIVE,
    with_phone: bool = True,
    birth_year: int = 1955,
    code: str | None = None,
) -> Patient:
    n = _next()
    record = Patient(
        code=code or f"P{n:06d}",
        name=name or f"患者{n}",
        phone=phone(n) if with_phone else None,
        facility_id=facility.id,
        primary_condition=condition,
        conditions=[condition],
        birth_year=birth_year,
        sex="F" if n % 2 else "M",
        volunteer=volunteer,
        status=status,
        language=language,
    )
    session.add(record)
    session.flush()
    return record


@dataclass
class GridFixture:
    grid: Grid
    doctor: Doctor | None
    coordinator: Patient
    members: dict[int, Patient] = field(default_factory=dict)
    """seat -> patient, the coordinator included."""


def grid_with_members(
    session: Session,
    clinic: Facility,
    *,
    size: int = 12,
    condition: str = "hypertension",
    language: str = "zh_CN",
    with_doctor: bool = True,
    code: str | None = None,
) -> GridFixture:
    """A grid of `size` members; seat 1 is the volunteer coordinator."""
    doc = doctor(session, clinic, language=language) if with_doctor else None
    grid = Grid(
        code=code or f"G{_next():05d}",
        facility_id=clinic.id,
        condition=condition,
        doctor_id=doc.id if doc else None,
    )
    session.add(grid)
    session.flush()
    members: dict[int, Patient] = {}
    for seat in range(1, size + 1):
        member = patient(
            session, clinic, condition=condition, volunteer=seat == 1, language=language
        )
        session.add(Membership(grid_id=grid.id, patient_id=member.id, seat=seat))
        members[seat] = member
    grid.coordinator_id = members[1].id
    session.flush()
    return GridFixture(grid=grid, doctor=doc, coordinator=members[1], members=members)


def phone_of(person: Patient | Doctor | None) -> str:
    """The phone of someone a test made with one."""
    assert person is not None and person.phone, person
    return person.phone
