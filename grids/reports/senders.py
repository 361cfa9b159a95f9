"""Who is texting, and the grid they speak for: found by phone in one query."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Session, load_only

from grids.core.vocabulary import GONE_STATUSES
from grids.models import (
    Doctor,
    Grid,
    Membership,
    Patient,
)
from grids.reports.errors import UnknownSeats

# --- who is sending, and the grid they speak for ---


@dataclass(frozen=True)
class GridRoster:
    """A grid and its current members by seat."""

    grid: Grid
    members: Mapping[int, Patient]

    @property
    def occupied(self) -> list[int]:
        return sorted(self.members)

    def seat_of(self, patient_id: int) -> int | None:
        for seat, member in self.members.items():
            if member.id == patient_id:
                return seat
        return None

    def followed(self) -> dict[int, Patient]:
        """Members still followed week by week (not deceased, moved away or inactive)."""
        return {seat: m for seat, m in self.members.items() if m.status not in GONE_STATUSES}

    def check_seats(self, seats: Iterable[int]) -> None:
        unknown = sorted({seat for seat in seats if seat not in self.members})
        if unknown:
            raise UnknownSeats(unknown, self.occupied)


@dataclass(frozen=True)
class Sender:
    """Who texted: `doctor`, `coordinator` (of `grid`), `member` (of `grid`), `patient`
    (in no grid) or `unknown`. A grid's deputy speaks for it exactly like its
    coordinator: role `coordinator`, with `deputy` set (the reply names the grid)."""

    role: str
    doctor: Doctor | None = None
    patient: Patient | None = None
    roster: GridRoster | None = None
    deputy: bool = False

    @property
    def language(self) -> str | None:
        person = self.doctor or self.patient
        return person.language if person is not None else None

    @property
    def person_id(self) -> int | None:
        person = self.doctor or self.patient
        return person.id if person is not None else None


# What the SMS channel reads or changes of a grid and its members. Other columns
# (conditions, birth year, exchange venue, ...) are left unloaded and load on first use.
ROSTER_GRID_COLUMNS = (
    Grid.id,
    Grid.code,
    Grid.facility_id,
    Grid.doctor_id,
    Grid.coordinator_id,
    Grid.deputy_id,
)
ROSTER_MEMBER_COLUMNS = (
    Patient.id,
    Patient.code,
    Patient.name,
    Patient.phone,
    Patient.facility_id,
    Patient.status,
    Patient.died_on,
    Patient.language,
)


def _with_members(query: Select[Any]) -> Select[Any]:
    """`query` (which selects from `Grid`) joined to the grid's current members by seat."""
    return (
        query.add_columns(Membership.seat, Patient)
        .outerjoin(Membership, and_(Membership.grid_id == Grid.id, Membership.left_at.is_(None)))
        .outerjoin(Patient, Patient.id == Membership.patient_id)
        .options(load_only(*ROSTER_GRID_COLUMNS), load_only(*ROSTER_MEMBER_COLUMNS))
        .order_by(Membership.seat)
    )


def _roster(grid: Grid, rows: Iterable[Any]) -> GridRoster:
    return GridRoster(
        grid=grid, members={row.seat: row.Patient for row in rows if row.seat is not None}
    )


# Statements used on every inbound SMS are built once: SQLAlchemy then finds their
# compiled form by a cache key computed once, not on each message.
_ROSTER = _with_members(select(Grid).where(Grid.id == bindparam("grid_id")))


def sender_roster_query() -> Select[Any]:
    """Who owns `:phone` and, for a patient, the roster of the grid they speak for, in
    one round trip: one row per member (or one row with no grid). `sender_of` reads
    its rows."""
    phone = bindparam("phone", type_=String)
    patient_id = select(Patient.id).where(Patient.phone == phone).scalar_subquery()
    member_of = (
        select(Membership.grid_id)
        .where(Membership.patient_id == patient_id, Membership.left_at.is_(None))
        .limit(1)
        .scalar_subquery()
    )
    sender = select(
        select(Doctor.id).where(Doctor.phone == phone).scalar_subquery().label("doctor_id"),
        patient_id.label("patient_id"),
        select(Grid.id)
        .where(Grid.coordinator_id == patient_id, Grid.id == member_of)
        .scalar_subquery()
        .label("coordinates_own"),
        select(func.min(Grid.id))
        .where(Grid.coordinator_id == patient_id)
        .scalar_subquery()
        .label("coordinates_any"),
        select(func.min(Grid.id))
        .where(Grid.deputy_id == patient_id, Grid.closed_at.is_(None))
        .scalar_subquery()
        .label("deputises"),
        member_of.label("member_of"),
    ).subquery("sender")
    spoken_for = func.coalesce(
        sender.c.coordinates_own, sender.c.coordinates_any, sender.c.deputises, sender.c.member_of
    )
    return _with_members(
        select(sender)
        .select_from(sender)
        .add_columns(Grid)
        .outerjoin(Grid, and_(sender.c.doctor_id.is_(None), Grid.id == spoken_for))
    )


_SENDER_ROSTER = sender_roster_query()


def load_roster(session: Session, grid: Grid | int) -> GridRoster:
    """The grid and its current members, in one query."""
    grid_id = grid if isinstance(grid, int) else grid.id
    rows = session.execute(_ROSTER, {"grid_id": grid_id}).all()
    if not rows:
        raise LookupError(f"no grid with id {grid_id}")
    return _roster(rows[0].Grid, rows)


def current_grid_of(session: Session, patient: Patient) -> Grid | None:
    return session.scalar(
        select(Grid)
        .join(Membership, Membership.grid_id == Grid.id)
        .where(Membership.patient_id == patient.id, Membership.left_at.is_(None))
    )


def identify_sender(session: Session, phone: str) -> Sender:
    """A doctor by phone, else a patient: the coordinator of a grid (the one they sit
    in, if they coordinate several), its deputy, a member, or neither. One query finds who it is
    and, for a patient in a grid, that grid with its members."""
    return sender_of(session, session.execute(_SENDER_ROSTER, {"phone": phone}).all())


def sender_of(session: Session, rows: Sequence[Any]) -> Sender:
    """The sender found by the rows of `sender_roster_query` (or a statement built on it)."""
    found = rows[0]
    if found.doctor_id is not None:
        return Sender("doctor", doctor=session.get(Doctor, found.doctor_id))
    if found.patient_id is None:
        return Sender("unknown")
    roster = _roster(found.Grid, rows) if found.Grid is not None else None
    # Loaded with the roster when they sit in the grid, so no second query then.
    patient = session.get(Patient, found.patient_id)
    if found.coordinates_own is not None or found.coordinates_any is not None:
        return Sender("coordinator", patient=patient, roster=roster)
    if found.deputises is not None:
        return Sender("coordinator", patient=patient, roster=roster, deputy=True)
    if roster is not None:
        return Sender("member", patient=patient, roster=roster)
    return Sender("patient", patient=patient)
