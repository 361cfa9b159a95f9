"""How one village clinic's waiting patients become new grids: pure, no database.

A clinic with n patients to place forms ceil(n/20) grids of sizes as even as the count
allows. Same-condition grids come first (同病伙伴): while some condition still has
enough patients listing it to fill the next grid, that grid takes them (its primary
patients first, then those who list it beside another). What is left is put together
in the remaining grids, patients of one condition next to each other; such a grid is
`mixed` unless all its members happen to share a condition. Volunteers with a phone
are then swapped between grids where conditions allow, so that each grid has a
coordinator and, where there are enough, a deputy too. docs/formation.md gives worked
examples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

from grids.core.limits import GRID_CAPACITY
from grids.core.vocabulary import MIXED
from grids.formation.planner_records import PatientIn

LEADERS_WANTED = 2
"""A coordinator and a deputy."""


@dataclass(slots=True)
class PlannedGrid:
    condition: str
    members: list[PatientIn]


def grid_sizes(count: int) -> list[int]:
    """ceil(count/20) sizes, largest first, differing by at most one."""
    if count <= 0:
        return []
    grids = math.ceil(count / GRID_CAPACITY)
    base, extra = divmod(count, grids)
    return [base + 1] * extra + [base] * (grids - extra)


def fits(patient: PatientIn, condition: str) -> bool:
    return condition == MIXED or patient.has_condition(condition)


def partition(patients: Sequence[PatientIn]) -> list[PlannedGrid]:
    """The new grids of one clinic for `patients` (none of them placed yet)."""
    sizes = grid_sizes(len(patients))
    ordered = sorted(patients, key=attrgetter("code"))
    primary: dict[str, list[PatientIn]] = {}
    secondary: dict[str, list[PatientIn]] = {}
    listing: dict[str, int] = {}
    for patient in ordered:
        primary.setdefault(patient.condition, []).append(patient)
        listing[patient.condition] = listing.get(patient.condition, 0) + 1
        for other in patient.conditions:
            if other != patient.condition:
                secondary.setdefault(other, []).append(patient)
                listing[other] = listing.get(other, 0) + 1
    primary_count = {condition: len(group) for condition, group in primary.items()}
    taken: set[int] = set()

    def take(patient: PatientIn) -> None:
        taken.add(patient.id)
        primary_count[patient.condition] -= 1
        for condition in patient.listed:
            listing[condition] -= 1

    planned: list[PlannedGrid] = []
    index = 0
    while index < len(sizes):
        size = sizes[index]
        candidates = [condition for condition, count in listing.items() if count >= size]
        if not candidates:
            break
        condition = max(sorted(candidates), key=lambda c: (primary_count.get(c, 0), listing[c]))
        members: list[PatientIn] = []
        for patient in (*primary.get(condition, ()), *secondary.get(condition, ())):
            if len(members) == size:
                break
            if patient.id not in taken:
                take(patient)
                members.append(patient)
        planned.append(PlannedGrid(condition, members))
        index += 1

    rest = [patient for patient in ordered if patient.id not in taken]
    group_size = {condition: len(group) for condition, group in primary.items()}
    rest.sort(key=lambda p: (-group_size[p.condition], p.condition, p.code))
    start = 0
    for size in sizes[index:]:
        planned.append(PlannedGrid(MIXED, rest[start : start + size]))
        start += size

    spread_leaders(planned)
    for grid in planned:
        if grid.condition == MIXED:
            grid.condition = _shared_condition(grid.members)
    return planned


def _shared_condition(members: Sequence[PatientIn]) -> str:
    """The condition every member lists (the most common primary one), else `mixed`."""
    if not members:
        return MIXED
    shared = set(members[0].listed)
    for patient in members[1:]:
        shared &= set(patient.listed)
        if not shared:
            return MIXED
    primaries = [patient.condition for patient in members if patient.condition in shared]
    return max(sorted(shared), key=primaries.count)


def _leaders(grid: PlannedGrid) -> int:
    return sum(1 for patient in grid.members if patient.can_coordinate)


def spread_leaders(grids: list[PlannedGrid]) -> None:
    """Swap volunteers with a phone into grids short of a coordinator, then of a deputy.

    A swap takes a volunteer from a grid with more than it needs and gives back a member
    who is no volunteer; both must fit the grid they go to.
    """
    if len(grids) < 2:
        return
    for wanted in range(1, LEADERS_WANTED + 1):
        for grid in grids:
            while _leaders(grid) < wanted and _swap_into(grid, grids, wanted):
                pass


def _swap_into(short: PlannedGrid, grids: list[PlannedGrid], wanted: int) -> bool:
    for donor in grids:
        if donor is short or _leaders(donor) <= wanted:
            continue
        volunteer = next(
            (p for p in donor.members if p.can_coordinate and fits(p, short.condition)), None
        )
        if volunteer is None:
            continue
        other = next(
            (p for p in short.members if not p.can_coordinate and fits(p, donor.condition)), None
        )
        if other is None:
            continue
        donor.members[donor.members.index(volunteer)] = other
        short.members[short.members.index(other)] = volunteer
        return True
    return False
