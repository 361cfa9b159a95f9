"""Who may be written to: never the opted out, numbers flagged invalid, people without
a phone, nor members deceased, moved away or inactive, nor doctors not active."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.vocabulary import GONE_STATUSES, DoctorStatus
from grids.models import Doctor, Membership, Patient
from notifications.models import SmsContact
from scheduling.jobs.common import chunks


@dataclass(frozen=True)
class Person:
    id: int
    phone: str
    language: str
    seat: int | None = None
    name: str = ""


def _reachable(status: object, phone: str | None, opted_out: object, invalid: object) -> bool:
    return (
        phone is not None
        and status not in GONE_STATUSES
        and status != DoctorStatus.SUSPENDED
        and status != DoctorStatus.RETIRED
        and opted_out is None
        and invalid is None
    )


def members_by_grid(
    session: Session, grid_ids: Iterable[int]
) -> tuple[dict[int, list[Person]], int]:
    """The reachable current members of each grid, and how many were left out."""
    found: dict[int, list[Person]] = defaultdict(list)
    left_out = 0
    for part in chunks(sorted(set(grid_ids))):
        rows = session.execute(
            select(
                Membership.grid_id,
                Membership.seat,
                Patient.id,
                Patient.phone,
                Patient.language,
                Patient.status,
                SmsContact.opted_out_at,
                SmsContact.invalid_at,
            )
            .join(Patient, Patient.id == Membership.patient_id)
            .outerjoin(SmsContact, SmsContact.phone == Patient.phone)
            .where(Membership.grid_id.in_(part), Membership.left_at.is_(None))
        )
        for grid_id, seat, pid, phone, language, status, opted_out, invalid in rows:
            if _reachable(status, phone, opted_out, invalid):
                found[grid_id].append(Person(pid, phone, language, seat))
            else:
                left_out += 1
    return found, left_out


def patients(session: Session, ids: Iterable[int]) -> dict[int, Person]:
    """The reachable patients among `ids` (coordinators), by id."""
    found: dict[int, Person] = {}
    for part in chunks(sorted(set(ids))):
        rows = session.execute(
            select(
                Patient.id,
                Patient.phone,
                Patient.language,
                Patient.name,
                Patient.status,
                SmsContact.opted_out_at,
                SmsContact.invalid_at,
            )
            .outerjoin(SmsContact, SmsContact.phone == Patient.phone)
            .where(Patient.id.in_(part))
        )
        for pid, phone, language, name, status, opted_out, invalid in rows:
            if _reachable(status, phone, opted_out, invalid):
                found[pid] = Person(pid, phone, language, name=name)
    return found


def doctors(session: Session, ids: Iterable[int]) -> dict[int, Person]:
    """The reachable active doctors among `ids`, by id."""
    found: dict[int, Person] = {}
    for part in chunks(sorted(set(ids))):
        rows = session.execute(
            select(
                Doctor.id,
                Doctor.phone,
                Doctor.language,
                Doctor.name,
                Doctor.status,
                SmsContact.opted_out_at,
                SmsContact.invalid_at,
            )
            .outerjoin(SmsContact, SmsContact.phone == Doctor.phone)
            .where(Doctor.id.in_(part))
        )
        for did, phone, language, name, status, opted_out, invalid in rows:
            if _reachable(status, phone, opted_out, invalid):
                found[did] = Person(did, phone, language, name=name)
    return found
