"""A small county for the administration tests: two clinics of one township, a clinic of
another, three doctors and grids with members; and operations run on it as the bureau."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from grids.admin import operations
from grids.admin.service import Outcome, execute
from grids.core.vocabulary import FacilityLevel
from grids.models import Doctor, Facility, Grid, Membership, Patient
from notifications import outbox
from tests.support import factories

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass
class County:
    facilities: dict[str, Facility]
    far_clinic: Facility
    d1: Doctor
    """Clinic A; holds grids g1 and g2."""
    d2: Doctor
    """Clinic B, same township."""
    d3: Doctor
    """Another township."""
    g1: factories.GridFixture
    g2: factories.GridFixture


def county(session: Session) -> County:
    facilities = factories.facility_tree(session, prefix="A")
    other_township = Facility(
        code="AT2",
        name="连福镇卫生院",
        level=FacilityLevel.TOWNSHIP_CENTER,
        parent_id=facilities["county"].id,
        phone=factories.phone(),
    )
    session.add(other_township)
    session.flush()
    far = Facility(
        code="AV9",
        name="南村卫生室",
        level=FacilityLevel.VILLAGE_CLINIC,
        parent_id=other_township.id,
        phone=factories.phone(),
    )
    session.add(far)
    session.flush()
    clinic_a = facilities["clinic_a"]
    g1 = factories.grid_with_members(session, clinic_a, size=12, code="AV1-HTN01")
    d1 = g1.doctor
    assert d1 is not None
    g2 = factories.grid_with_members(
        session, clinic_a, size=19, code="AV1-HTN02", with_doctor=False
    )
    g2.grid.doctor_id = d1.id
    d2 = factories.doctor(session, facilities["clinic_b"], name="李医生", code="DB1")
    d3 = factories.doctor(session, far, name="赵医生", code="DF1")
    session.flush()
    return County(facilities, far, d1, d2, d3, g1, g2)


def current_seat(session: Session, patient: Patient) -> tuple[str, int] | None:
    from sqlalchemy import select

    row = session.execute(
        select(Grid.code, Membership.seat)
        .join(Membership, Membership.grid_id == Grid.id)
        .where(Membership.patient_id == patient.id, Membership.left_at.is_(None))
    ).first()
    return (row[0], row[1]) if row else None


def deliver(session: Session, notices: Any, now: datetime) -> None:
    outbox.enqueue_many(session, notices, now=now)


def run(session: Session, plan: operations.Plan, **options: Any) -> Outcome:
    """The plan executed as the bureau at NOW, committed when it was applied."""
    options.setdefault("actor", "user:bureau")
    options.setdefault("now", NOW)
    outcome = execute(session, plan, deliver=deliver, **options)
    if outcome.applied:
        session.commit()
    return outcome


def applied_id(change_set_id: int | None) -> int:
    assert change_set_id is not None, "the operation was not applied"
    return change_set_id
