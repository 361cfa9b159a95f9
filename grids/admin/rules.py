"""The rules of reassignment as plain functions over plain data (no Flask, no database).

What may move where (capacity, same clinic or township, same condition), which
problems an administrator may override with a written reason, the suggested
balanced reassignment of a leaving doctor's grids, seats and splits.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grids.core.limits import DOCTOR_GRID_CAPACITY, GRID_CAPACITY


@dataclass(frozen=True)
class Problem:
    """Something wrong with an operation. `overridable` ones pass with `override` and a
    reason; the others never do. `key` names the catalogue text, `params` fill it."""

    code: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    overridable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "overridable": self.overridable,
            "params": {k: v for k, v in self.params.items()},
        }


@dataclass(frozen=True)
class DoctorSlot:
    """A doctor who could take grids: where they work and how many grids they hold."""

    id: int
    code: str
    clinic_id: int
    township_id: int | None
    grids: int
    active: bool = True


@dataclass(frozen=True)
class GridPlace:
    id: int
    code: str
    clinic_id: int
    township_id: int | None
    condition: str
    members: int


def problem(code: str, overridable: bool = False, **params: Any) -> Problem:
    return Problem(code, f"admin.problem.{code}", params, overridable)


def doctor_problems(grid: GridPlace, doctor: DoctorSlot, added: int = 1) -> list[Problem]:
    """Can `doctor` take `grid` (with `added` more grids than now)?"""
    found: list[Problem] = []
    if not doctor.active:
        found.append(problem("doctor_inactive", doctor=doctor.code))
    if doctor.grids + added > DOCTOR_GRID_CAPACITY:
        found.append(
            problem(
                "doctor_full",
                True,
                doctor=doctor.code,
                grids=doctor.grids + added,
                limit=DOCTOR_GRID_CAPACITY,
            )
        )
    if doctor.clinic_id != grid.clinic_id and (
        doctor.township_id is None or doctor.township_id != grid.township_id
    ):
        found.append(problem("doctor_elsewhere", True, doctor=doctor.code, grid=grid.code))
    return found


def grid_room_problems(grid: GridPlace, joining: int) -> list[Problem]:
    if grid.members + joining > GRID_CAPACITY:
        return [
            problem(
                "grid_full", grid=grid.code, members=grid.members + joining, limit=GRID_CAPACITY
            )
        ]
    return []


def lowest_free_seats(taken: Iterable[int], count: int) -> list[int]:
    """The `count` lowest seats not in `taken`; ValueError when the grid has too few."""
    used = set(taken)
    free = [seat for seat in range(1, GRID_CAPACITY + 1) if seat not in used]
    if len(free) < count:
        raise ValueError(f"only {len(free)} free seats, {count} needed")
    return free[:count]


def split_seats(seats: Sequence[int], coordinator_seat: int | None) -> list[int]:
    """The seats that leave in a balanced split: the higher half, never the coordinator.

    The grid keeps ceil(n/2) members (the coordinator among them)."""
    movable = sorted(seat for seat in seats if seat != coordinator_seat)
    leaving = len(seats) // 2
    return movable[len(movable) - leaving :] if leaving else []


def suggest_reassignment(
    grids: Sequence[GridPlace], doctors: Sequence[DoctorSlot], *, anywhere: bool = False
) -> dict[int, int | None]:
    """Grid id -> doctor id (None: nobody can take it) for a leaving doctor's grids.

    Each grid, in code order, goes to the doctor with the fewest grids among the
    active doctors of its own clinic with room; failing that, of its township;
    failing that, when `anywhere` (the administrator named the doctors), any of them.
    """
    loads = {doctor.id: doctor.grids for doctor in doctors}
    suggestion: dict[int, int | None] = {}
    for grid in sorted(grids, key=lambda g: g.code):
        chosen: int | None = None
        for same in (
            lambda d, g=grid: d.clinic_id == g.clinic_id,
            lambda d, g=grid: g.township_id is not None and d.township_id == g.township_id,
            lambda d: anywhere,
        ):
            heap = [
                (loads[d.id], d.code, d.id)
                for d in doctors
                if d.active and same(d) and loads[d.id] < DOCTOR_GRID_CAPACITY
            ]
            if heap:
                chosen = heapq.nsmallest(1, heap)[0][2]
                break
        if chosen is not None:
            loads[chosen] += 1
        suggestion[grid.id] = chosen
    return suggestion


def blocking(problems: Iterable[Problem], override: bool) -> list[Problem]:
    """The problems that stop the operation: all of them, or only the hard ones when
    overridden."""
    return [p for p in problems if not (override and p.overridable)]
