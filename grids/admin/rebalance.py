"""`grids rebalance` as an administrative change-set: the moves of
`grids.formation.rebalance` turned into a plan the admin service previews, applies
(compare-and-set on every grid touched, audited, undoable) and tells people about."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.accounts.access import facility_subtree_ids
from grids.admin.lookups import NotFound
from grids.admin.plans import Plan, join, leave, set_field, touch
from grids.admin.rules import lowest_free_seats, problem
from grids.core.notices import Notice
from grids.core.vocabulary import GONE_STATUSES, MIXED, FacilityLevel
from grids.formation.rebalance import (
    REBALANCE_QUIET_DAYS,
    CurrentGrid,
    Member,
    plan_rebalance,
)
from grids.models import ChangeSet, Doctor, Facility, Grid, Membership, Patient

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


def rebalance_notices(
    session: Session, recorded: list[dict[str, Any]], change_set_id: int
) -> list[Notice]:
    """Besides the members who move (told by the admin service like any move) and the
    doctors of closed grids: each receiving grid's coordinator, and its doctor once."""
    joined: dict[int, set[int]] = defaultdict(set)
    for change in recorded:
        if change["table"] == "memberships" and change["op"] == "insert":
            values = change["values"]
            joined[int(values["grid_id"])].add(int(values["patient_id"]))
    if not joined:
        return []
    movers = {patient_id for patients in joined.values() for patient_id in patients}
    grids = list(session.scalars(select(Grid).where(Grid.id.in_(list(joined))).order_by(Grid.code)))
    notices: list[Notice] = []
    prefix = f"admin:{change_set_id}"
    by_doctor: dict[int, list[Grid]] = defaultdict(list)
    for grid in grids:
        coordinator = session.get(Patient, grid.coordinator_id) if grid.coordinator_id else None
        if (
            coordinator is not None
            and coordinator.id not in movers
            and coordinator.phone
            and coordinator.status not in GONE_STATUSES
        ):
            notices.append(
                Notice.to_person(
                    coordinator,
                    key=f"{prefix}:coordinator_joined:patient:{coordinator.id}",
                    template="sms.admin.coordinator_joined",
                    params={"grid": grid.code, "count": len(joined[grid.id])},
                )
            )
        if grid.doctor_id is not None:
            by_doctor[grid.doctor_id].append(grid)
    for doctor_id, own in sorted(by_doctor.items()):
        doctor = session.get(Doctor, doctor_id)
        if doctor is None or not doctor.phone:
            continue
        codes = [grid.code for grid in own]
        shown = ", ".join(codes[:3]) + ("…" if len(codes) > 3 else "")
        notices.append(
            Notice.to_person(
                doctor,
                key=f"{prefix}:doctor_joined:doctor:{doctor.id}",
                template="sms.admin.doctor_members_joined",
                params={"count": sum(len(joined[g.id]) for g in own), "grids": shown},
            )
        )
    return notices
