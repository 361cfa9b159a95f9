"""A plan of an administrative operation and the change records it is built from.

The changes are in the format of `grids.audit`; `grids.admin.service` applies them, in
`phased` order, as one change-set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from grids.admin.rules import Problem, problem
from grids.models import Grid, Membership, Patient


@dataclass
class Plan:
    operation: str
    subject: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    """Consequences worth reading that stop nothing (a grid left without a coordinator)."""
    moves: list[dict[str, Any]] = field(default_factory=list)
    """Who moves where: patient, from grid and seat, to grid and seat."""
    assignments: list[dict[str, Any]] = field(default_factory=list)
    """Grids changing doctor: grid, from doctor, to doctor (editable for a retirement)."""
    grid_ids: set[int] = field(default_factory=set)
    doctor_ids: set[int] = field(default_factory=set)
    facility_ids: set[int] = field(default_factory=set)
    """Every clinic the operation touches: a township account must hold them all."""
    versions: dict[str, int] = field(default_factory=dict)
    """Grid code -> version read: what an apply after this preview expects."""
    accepted: set[tuple[str, str]] = field(default_factory=set)
    """(`grids check` code, subject) the operation is defined to leave; see
    `grids.admin.hierarchy_check`."""


def set_field(
    table: str, row_id: Any, key: str, column: str, expected: Any, value: Any
) -> dict[str, Any]:
    return {
        "op": "update",
        "table": table,
        "id": row_id,
        "key": key,
        "field": column,
        "expected": expected,
        "set": value,
    }


def refuse_closed(plan: Plan, grid: Grid) -> bool:
    """A closed grid (merged into another) takes no part in any operation."""
    if grid.closed_at is None:
        return False
    plan.problems.append(problem("grid_closed", grid=grid.code))
    return True


def touch(plan: Plan, grid: Grid) -> None:
    """Compare-and-set on the grid's version: a concurrent edit of it is a conflict."""
    if grid.id in plan.grid_ids:
        return
    plan.grid_ids.add(grid.id)
    plan.facility_ids.add(grid.facility_id)
    plan.versions[grid.code] = grid.version
    plan.changes.append(
        set_field("grids", grid.id, grid.code, "version", grid.version, grid.version + 1)
    )


def leave(plan: Plan, membership: Membership, key: str, now: datetime, reason: str) -> None:
    plan.changes.append(set_field("memberships", membership.id, key, "left_at", None, now))
    plan.changes.append(set_field("memberships", membership.id, key, "left_reason", None, reason))


def join(plan: Plan, grid_id: Any, patient: Patient, seat: int, now: datetime) -> None:
    plan.changes.append(
        {
            "op": "insert",
            "table": "memberships",
            "key": patient.code,
            "values": {
                "grid_id": grid_id,
                "patient_id": patient.id,
                "seat": seat,
                "joined_at": now,
                "left_at": None,
                "left_reason": None,
            },
        }
    )


def _phase(change: dict[str, Any]) -> tuple[int, str, str]:
    """Versions first, then new grids, then other updates (seats are freed), then new
    memberships: a plan in this order never trips a unique seat or current-member index,
    and like changes sit together so they are applied in bulk."""
    if change["op"] == "update" and change["table"] == "grids" and change["field"] == "version":
        return (0, "", "")
    if change["op"] == "insert" and change["table"] == "grids":
        return (1, "", "")
    if change["op"] == "insert":
        return (3, "", "")
    # A plan updates each column of a row once, so updates may go column by column.
    return (2, change["table"], change["field"])


def phased(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(changes, key=_phase)  # stable: each phase keeps the plan's order
