"""Who may be written to: never the opted out, numbers flagged invalid, people without
a phone, nor members deceased, moved away or inactive, nor doctors not active; and,
given `today`, no member paused (`admin pause-member`) until a later day.

Which numbers are opted out or invalid is the channel's record (`NumberStates`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from grids.core.vocabulary import GONE_STATUSES, DoctorStatus
from grids.models import Doctor, Grid, Membership, Patient
from grids.outreach import NumberStates
from grids.storage.id_lists import among, id_batches


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


def paused_on(today: date) -> ColumnElement[bool]:
    """The member is away (paused) on `today`: he resumes by himself on his day."""
    return func.coalesce(Patient.paused_until > today, False)


def _reachable_member(states: NumberStates, today: date | None = None) -> ColumnElement[bool]:
    """`_reachable` of a member row (patients outer-joined to the number states), in SQL."""
    return and_(
        Patient.phone.is_not(None),
        Patient.status.not_in(sorted(GONE_STATUSES)),
        states.opted_out_at.is_(None),
        states.invalid_at.is_(None),
        *([] if today is None else [~paused_on(today)]),
    )


def current_members(
    session: Session, states: NumberStates, grid_ids: list[int], today: date | None = None
) -> Select[Any]:
    """The current members of `grid_ids`: `grid_id`, `patient_id`, `phone`, `language`,
    `seat`, `reachable` (may be written to) and `not_coordinator` (is not the grid's
    coordinator)."""
    return (
        select(
            Membership.grid_id.label("grid_id"),
            Patient.id.label("patient_id"),
            Patient.phone.label("phone"),
            Patient.language.label("language"),
            Membership.seat.label("seat"),
            _reachable_member(states, today).label("reachable"),
            or_(Grid.coordinator_id.is_(None), Grid.coordinator_id != Patient.id).label(
                "not_coordinator"
            ),
        )
        .join(Patient, Patient.id == Membership.patient_id)
        .join(Grid, Grid.id == Membership.grid_id)
        .outerjoin(states.entity, states.phone == Patient.phone)
        .where(among(session, Membership.grid_id, grid_ids), Membership.left_at.is_(None))
    )


def member_counts(
    session: Session, states: NumberStates, grid_ids: Iterable[int], today: date | None = None
) -> dict[int, int]:
    """How many reachable current members each grid has besides its coordinator."""
    counts: dict[int, int] = {}
    for part in id_batches(session, grid_ids):
        members = current_members(session, states, part, today).subquery()
        # Counted with FILTER rather than left out by WHERE: the planner then reads
        # the members as for the reminders (a WHERE on the outer-joined contacts
        # makes it guess a handful of rows and loop over every patient).
        statement = select(
            members.c.grid_id,
            func.count().filter(members.c.reachable, members.c.not_coordinator),
        ).group_by(members.c.grid_id)
        counts.update(session.connection().execute(statement).tuples().all())
    return counts


def patients(
    session: Session, states: NumberStates, ids: Iterable[int], today: date | None = None
) -> dict[int, Person]:
    """The reachable patients among `ids` (coordinators), by id."""
    found: dict[int, Person] = {}
    for part in id_batches(session, ids):
        rows = session.execute(
            select(
                Patient.id,
                Patient.phone,
                Patient.language,
                Patient.name,
                Patient.status,
                states.opted_out_at,
                states.invalid_at,
                Patient.paused_until,
            )
            .outerjoin(states.entity, states.phone == Patient.phone)
            .where(among(session, Patient.id, part))
        )
        for pid, phone, language, name, status, opted_out, invalid, paused in rows:
            if today is not None and paused is not None and paused > today:
                continue
            if _reachable(status, phone, opted_out, invalid):
                found[pid] = Person(pid, phone, language, name=name)
    return found


def doctors(session: Session, states: NumberStates, ids: Iterable[int]) -> dict[int, Person]:
    """The reachable active doctors among `ids`, by id."""
    found: dict[int, Person] = {}
    for part in id_batches(session, ids):
        rows = session.execute(
            select(
                Doctor.id,
                Doctor.phone,
                Doctor.language,
                Doctor.name,
                Doctor.status,
                states.opted_out_at,
                states.invalid_at,
            )
            .outerjoin(states.entity, states.phone == Doctor.phone)
            .where(among(session, Doctor.id, part))
        )
        for did, phone, language, name, status, opted_out, invalid in rows:
            if _reachable(status, phone, opted_out, invalid):
                found[did] = Person(did, phone, language, name=name)
    return found
