"""Bringing grids formed by the old rule to the targets, moving as few members as can be.

Pure: plain records in, moves out. Per village clinic with n members, ceil(n/20)
grids are kept (the largest: their members stay), the others are closed and their
members take free seats in the kept ones (a grid of a condition they list first,
the one with most room; else a mixed grid; else the roomiest kept grid becomes
mixed). Then a kept grid still under `SMALL_GRID_BELOW` takes members from the
largest grids, as long as the clinic has enough. A member moved by a rebalance in
the last 12 months is never moved again: a grid holding one is kept as it is.
docs/formation.md describes it with an example.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from grids.core.limits import GRID_CAPACITY
from grids.core.vocabulary import MIXED
from grids.formation.planner_records import SMALL_GRID_BELOW

REBALANCE_QUIET_DAYS = 365
"""A member moved by a rebalance is not moved by another for this long."""


@dataclass(frozen=True, slots=True)
class Member:
    patient_id: int
    listed: tuple[str, ...]
    """Every condition listed, primary first."""


@dataclass(frozen=True, slots=True)
class CurrentGrid:
    id: int
    code: str
    clinic_id: int
    condition: str
    members: tuple[Member, ...]
    leaders: frozenset[int] = frozenset()
    """Its coordinator and deputy: never pulled out of a grid that is kept."""


@dataclass(frozen=True, slots=True)
class Move:
    patient_id: int
    from_grid: int
    to_grid: int


@dataclass(slots=True)
class Rebalance:
    moves: list[Move] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    made_mixed: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Kept:
    grid: CurrentGrid
    condition: str
    size: int

    def fits(self, member: Member) -> bool:
        return self.condition == MIXED or self.condition in member.listed


def plan_rebalance(grids: Sequence[CurrentGrid], recently_moved: frozenset[int]) -> Rebalance:
    """The moves that bring each clinic's grids to ceil(n/20), none under 8 where the
    clinic allows; `recently_moved` are members a rebalance moved within 12 months."""
    by_clinic: dict[int, list[CurrentGrid]] = {}
    for grid in grids:
        by_clinic.setdefault(grid.clinic_id, []).append(grid)
    result = Rebalance()
    for clinic_id in sorted(by_clinic):
        _clinic(by_clinic[clinic_id], recently_moved, result)
    return result


def _clinic(grids: list[CurrentGrid], recently_moved: frozenset[int], out: Rebalance) -> None:
    members = sum(len(grid.members) for grid in grids)
    if members == 0:
        return
    wanted = math.ceil(members / GRID_CAPACITY)

    def locked(grid: CurrentGrid) -> bool:
        return any(m.patient_id in recently_moved for m in grid.members)

    ranked = sorted(grids, key=lambda g: (not locked(g), -len(g.members), g.code))
    keep_count = max(wanted, sum(1 for grid in grids if locked(grid)))
    kept = [_Kept(grid, grid.condition, len(grid.members)) for grid in ranked[:keep_count]]
    for grid in ranked[keep_count:]:
        out.closed.append(grid.id)
        for member in sorted(grid.members, key=lambda m: m.patient_id):
            target = _place(member, kept, out)
            out.moves.append(Move(member.patient_id, grid.id, target.grid.id))
            target.size += 1
    if members >= SMALL_GRID_BELOW:
        _lift_small(kept, recently_moved, out)


def _place(member: Member, kept: list[_Kept], out: Rebalance) -> _Kept:
    open_ = [k for k in kept if k.size < GRID_CAPACITY]
    for condition in member.listed:
        same = [k for k in open_ if k.condition == condition]
        if same:
            return min(same, key=lambda k: (k.size, k.grid.code))
    mixed = [k for k in open_ if k.condition == MIXED]
    if mixed:
        return min(mixed, key=lambda k: (k.size, k.grid.code))
    roomiest = min(open_, key=lambda k: (k.size, k.grid.code))
    roomiest.condition = MIXED
    out.made_mixed.append(roomiest.grid.id)
    return roomiest


def _lift_small(kept: list[_Kept], recently_moved: frozenset[int], out: Rebalance) -> None:
    moved_out: dict[int, set[int]] = {}
    for move in out.moves:
        moved_out.setdefault(move.to_grid, set()).add(move.patient_id)
    for small in sorted(kept, key=lambda k: (k.size, k.grid.code)):
        while small.size < SMALL_GRID_BELOW:
            donor, member = _donor(small, kept, recently_moved, moved_out)
            if donor is None or member is None:
                break
            out.moves.append(Move(member.patient_id, donor.grid.id, small.grid.id))
            moved_out.setdefault(donor.grid.id, set()).add(member.patient_id)
            moved_out.setdefault(small.grid.id, set()).add(member.patient_id)
            donor.size -= 1
            small.size += 1


def _donor(
    small: _Kept,
    kept: list[_Kept],
    recently_moved: frozenset[int],
    moved: Mapping[int, set[int]],
) -> tuple[_Kept | None, Member | None]:
    for donor in sorted(kept, key=lambda k: (-k.size, k.grid.code)):
        if donor is small or donor.size - 1 < SMALL_GRID_BELOW:
            continue
        for member in donor.grid.members:
            if (
                member.patient_id not in recently_moved
                and member.patient_id not in donor.grid.leaders
                and member.patient_id not in moved.get(donor.grid.id, set())
                and small.fits(member)
            ):
                return donor, member
    return None, None
