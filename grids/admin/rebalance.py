"""`grids rebalance` as an administrative change-set: the moves of
`grids.formation.rebalance` turned into a plan the admin service previews, applies
(compare-and-set on every grid touched, audited, undoable) and tells people about."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.accounts.access import facility_subtree_ids
from grids.admin.lookups import NotFound
from grids.admin.plans import Plan, join, leave, set_field, touch
from grids.admin.rules import lowest_free_seats, problem
from grids.core.vocabulary import MIXED, FacilityLevel
from grids.formation.rebalance import (
    REBALANCE_QUIET_DAYS,
    CurrentGrid,
    Member,
    plan_rebalance,
)
from grids.models import ChangeSet, Facility, Grid, Membership, Patient

OPERATION = "rebalance"


def recently_rebalanced(session: Session, now: datetime) -> frozenset[int]:
    """Patients a rebalance moved within `REBALANCE_QUIET_DAYS` (and not undone)."""
    moved: set[int] = set()
    for changes in session.scalars(
        select(ChangeSet.changes).where(
            ChangeSet.operation == OPERATION,
            ChangeSet.undone_by_id.is_(None),
            ChangeSet.at >= now - timedelta(days=REBALANCE_QUIET_DAYS),
        )
    ):
        for change in changes:
            if change.get("op") == "insert" and change.get("table") == "memberships":
                moved.add(int(change["values"]["patient_id"]))
    return frozenset(moved)


def rebalance(session: Session, facility_code: str | None, now: datetime) -> Plan:
    """The plan that brings the county (or one facility's clinics) to the targets."""
    clinics = select(Facility.id).where(Facility.level == FacilityLevel.VILLAGE_CLINIC)
    if facility_code:
        facility = session.scalar(select(Facility).where(Facility.code == facility_code))
        if facility is None:
            raise NotFound("admin.error.no_facility", code=facility_code)
        clinics = clinics.where(Facility.id.in_(facility_subtree_ids(session, facility.id)))
    grids = {
        grid.id: grid
        for grid in session.scalars(
            select(Grid).where(Grid.facility_id.in_(clinics), Grid.closed_at.is_(None))
        )
    }
    rows = session.execute(
        select(Membership, Patient)
        .join(Patient, Patient.id == Membership.patient_id)
        .where(Membership.grid_id.in_(list(grids)), Membership.left_at.is_(None))
        .order_by(Membership.grid_id, Membership.seat)
    ).all()
    memberships = {membership.patient_id: membership for membership, _ in rows}
    patients = {patient.id: patient for _, patient in rows}
    members: dict[int, list[Member]] = {}
    for membership, patient in rows:
        listed = tuple(patient.conditions or ()) or (patient.primary_condition,)
        members.setdefault(membership.grid_id, []).append(Member(patient.id, listed))
    current = [
        CurrentGrid(
            grid.id,
            grid.code,
            grid.facility_id,
            grid.condition,
            tuple(members.get(grid.id, ())),
            frozenset(p for p in (grid.coordinator_id, grid.deputy_id) if p is not None),
        )
        for grid in sorted(grids.values(), key=lambda g: g.code)
    ]
    result = plan_rebalance(current, recently_rebalanced(session, now))

    plan = Plan(OPERATION, facility_code or "county")
    seats: dict[int, set[int]] = {}
    for membership, _ in rows:
        seats.setdefault(membership.grid_id, set()).add(membership.seat)
    for move in result.moves:
        source, target = grids[move.from_grid], grids[move.to_grid]
        touch(plan, source)
        touch(plan, target)
        membership = memberships[move.patient_id]
        patient = patients[move.patient_id]
        leave(plan, membership, patient.code, now, "rebalanced")
        seats[source.id].discard(membership.seat)
        seat = lowest_free_seats(seats.setdefault(target.id, set()), 1)[0]
        seats[target.id].add(seat)
        join(plan, target.id, patient, seat, now)
        plan.moves.append(
            {
                "patient": patient.code,
                "from": source.code,
                "from_seat": membership.seat,
                "to": target.code,
                "to_seat": seat,
            }
        )
    for grid_id in result.made_mixed:
        grid = grids[grid_id]
        touch(plan, grid)
        plan.changes.append(
            set_field("grids", grid.id, grid.code, "condition", grid.condition, MIXED)
        )
        plan.notes.append(problem("becomes_mixed", grid=grid.code))
    for grid_id in result.closed:
        _close(plan, grids[grid_id], now)
    return plan


def _close(plan: Plan, grid: Grid, now: datetime) -> None:
    touch(plan, grid)
    for column in ("coordinator_id", "deputy_id", "doctor_id"):
        value = getattr(grid, column)
        if value is not None:
            plan.changes.append(set_field("grids", grid.id, grid.code, column, value, None))
    if grid.doctor_id is not None:
        plan.doctor_ids.add(grid.doctor_id)
    plan.changes.append(set_field("grids", grid.id, grid.code, "closed_at", None, now))
    plan.notes.append(problem("rebalance_closes", grid=grid.code))
