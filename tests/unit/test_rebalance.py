"""Rebalancing grids formed the old way: ceil(n/20) grids a clinic, fewest moves."""

from __future__ import annotations

from collections import Counter

from grids.core.vocabulary import MIXED
from grids.formation.rebalance import CurrentGrid, Member, plan_rebalance


def grid(grid_id: int, condition: str, size: int, clinic: int = 1, first: int = 0) -> CurrentGrid:
    start = first or grid_id * 100
    members = tuple(Member(start + n, (condition,)) for n in range(size))
    return CurrentGrid(
        grid_id, f"V1-{condition[:3].upper()}{grid_id:02d}", clinic, condition, members
    )


def sizes_after(grids: list[CurrentGrid], moves) -> dict[int, int]:
    sizes = Counter({g.id: len(g.members) for g in grids})
    for move in moves:
        sizes[move.from_grid] -= 1
        sizes[move.to_grid] += 1
    return {grid_id: size for grid_id, size in sizes.items() if size}


def test_five_small_grids_of_a_village_of_28_become_two_moving_only_the_closed_ones() -> None:
    grids = [
        grid(1, "hypertension", 9),
        grid(2, "hypertension", 8),
        grid(3, "diabetes", 6),
        grid(4, "stroke", 3),
        grid(5, "copd", 2),
    ]
    result = plan_rebalance(grids, frozenset())

    assert sorted(result.closed) == [3, 4, 5]
    assert len(result.moves) == 11
    assert sizes_after(grids, result.moves) == {1: 9, 2: 19}
    assert result.made_mixed == [2]


def test_members_go_to_a_grid_of_a_condition_they_list_first() -> None:
    grids = [grid(1, "hypertension", 15), grid(2, "diabetes", 12), grid(3, "hypertension", 4)]
    result = plan_rebalance(grids, frozenset())
    assert result.closed == [3]
    assert {move.to_grid for move in result.moves} == {1}
    assert result.made_mixed == []


def test_a_small_kept_grid_takes_members_from_the_largest() -> None:
    grids = [grid(1, MIXED, 20), grid(2, MIXED, 20), grid(3, MIXED, 5)]
    result = plan_rebalance(grids, frozenset())
    assert result.closed == []
    assert min(sizes_after(grids, result.moves).values()) >= 8
    assert len(result.moves) == 3


def test_a_grid_with_a_member_rebalanced_within_12_months_is_left_alone() -> None:
    grids = [grid(1, "hypertension", 9), grid(2, "hypertension", 8), grid(3, "hypertension", 4)]
    result = plan_rebalance(grids, frozenset({301}))
    assert 3 not in result.closed
    assert all(move.patient_id != 301 for move in result.moves)


def test_a_clinic_already_on_target_is_not_touched() -> None:
    grids = [grid(1, "hypertension", 15), grid(2, "hypertension", 15), grid(3, "diabetes", 15)]
    result = plan_rebalance(grids, frozenset())
    assert (result.moves, result.closed, result.made_mixed) == ([], [], [])
