"""The deputy (副网格员) in administration: `admin set-deputy`, and the deputy who
steps down when he moves, leaves, dies or becomes the coordinator."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.admin.lookups import load_grid, load_patient
from grids.admin.plans import Plan, refuse_closed, set_field, touch
from grids.admin.rules import problem
from grids.core.limits import is_e164
from grids.core.vocabulary import PatientStatus
from grids.models import Grid, Membership, Patient


def can_lead(patient: Patient) -> bool:
    """A coordinator or deputy: an active volunteer with a mobile."""
    return patient.volunteer and is_e164(patient.phone) and patient.status == PatientStatus.ACTIVE


def appointment(
    session: Session, operation: str, grid_code: str, patient_code: str, role: str
) -> tuple[Plan, Grid, Patient]:
    """A plan making a member of the grid its `role` (`coordinator` or `deputy`): the
    member must belong to the grid, not hold the role already, and be able to lead."""
    grid = load_grid(session, grid_code)
    patient = load_patient(session, patient_code)
    plan = Plan(operation, grid.code)
    touch(plan, grid)
    refuse_closed(plan, grid)
    member = session.scalar(
        select(Membership).where(
            Membership.patient_id == patient.id,
            Membership.grid_id == grid.id,
            Membership.left_at.is_(None),
        )
    )
    field = f"{role}_id"
    other = "deputy" if role == "coordinator" else "coordinator"
    if member is None:
        plan.problems.append(problem("not_a_member", patient=patient.code, grid=grid.code))
    elif getattr(grid, field) == patient.id:
        plan.problems.append(problem(f"already_{role}", patient=patient.code, grid=grid.code))
    elif role == "deputy" and getattr(grid, f"{other}_id") == patient.id:
        plan.problems.append(problem("deputy_is_coordinator", patient=patient.code, grid=grid.code))
    elif not can_lead(patient):
        plan.problems.append(problem("not_a_volunteer", True, patient=patient.code))
    plan.changes.append(
        set_field("grids", grid.id, grid.code, field, getattr(grid, field), patient.id)
    )
    return plan, grid, patient


def set_deputy(session: Session, grid_code: str, patient_code: str) -> Plan:
    plan, _, _ = appointment(session, "set-deputy", grid_code, patient_code, "deputy")
    return plan


def release_deputy(plan: Plan, grid: Grid, patient_id: int) -> None:
    """The grid's deputy steps down when `patient_id` is he (he leaves or now leads)."""
    if grid.deputy_id is None or grid.deputy_id != patient_id:
        return
    plan.changes.append(set_field("grids", grid.id, grid.code, "deputy_id", patient_id, None))
    plan.notes.append(problem("needs_deputy", grid=grid.code))
