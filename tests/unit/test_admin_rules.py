"""The reassignment rules, without a database: limits, overrides, suggestion, seats, splits."""

from __future__ import annotations

import pytest

from grids.admin.rules import (
    DoctorSlot,
    GridPlace,
    blocking,
    doctor_problems,
    grid_room_problems,
    lowest_free_seats,
    split_seats,
    suggest_reassignment,
)

CLINIC_A, CLINIC_B, CLINIC_C = 1, 2, 3
TOWNSHIP_1, TOWNSHIP_2 = 10, 20


def grid(
    n: int, clinic: int = CLINIC_A, township: int = TOWNSHIP_1, members: int = 12
) -> GridPlace:
    return GridPlace(n, f"G{n:02d}", clinic, township, "hypertension", members)


def doctor(
    n: int, clinic: int = CLINIC_A, township: int = TOWNSHIP_1, grids: int = 0, active: bool = True
) -> DoctorSlot:
    return DoctorSlot(100 + n, f"D{n}", clinic, township, grids, active)


def codes(problems: list) -> list[str]:
    return [p.code for p in problems]


def test_a_doctor_of_the_same_clinic_with_room_passes() -> None:
    assert doctor_problems(grid(1), doctor(1, grids=14)) == []


def test_a_sixteenth_grid_is_over_capacity_but_overridable() -> None:
    found = doctor_problems(grid(1), doctor(1, grids=15))
    assert codes(found) == ["doctor_full"]
    assert found[0].params["grids"] == 16
    assert blocking(found, override=False) == found
    assert blocking(found, override=True) == []


def test_a_sibling_clinic_of_the_same_township_passes_another_township_does_not() -> None:
    assert doctor_problems(grid(1), doctor(1, clinic=CLINIC_B)) == []
    elsewhere = doctor_problems(grid(1), doctor(1, clinic=CLINIC_C, township=TOWNSHIP_2))
    assert codes(elsewhere) == ["doctor_elsewhere"]
    assert elsewhere[0].overridable


def test_an_inactive_doctor_is_refused_even_with_override() -> None:
    found = doctor_problems(grid(1), doctor(1, active=False))
    assert codes(found) == ["doctor_inactive"]
    assert blocking(found, override=True) == found


def test_a_grid_never_holds_more_than_twenty() -> None:
    assert grid_room_problems(grid(1, members=19), 1) == []
    found = grid_room_problems(grid(1, members=19), 2)
    assert codes(found) == ["grid_full"]
    assert blocking(found, override=True) == found


def test_the_lowest_free_seats_are_taken_first() -> None:
    assert lowest_free_seats([1, 2, 4, 7], 3) == [3, 5, 6]
    with pytest.raises(ValueError, match="free seats"):
        lowest_free_seats(range(1, 20), 2)


def test_a_split_is_balanced_and_the_coordinator_stays() -> None:
    seats = list(range(1, 20))  # 19 members, the coordinator in seat 19
    leaving = split_seats(seats, coordinator_seat=19)
    assert len(leaving) == 9
    assert 19 not in leaving
    assert len(seats) - len(leaving) == 10


def test_the_suggestion_prefers_the_clinic_then_the_township_and_balances_loads() -> None:
    grids = [grid(n) for n in range(1, 7)]
    doctors = [
        doctor(1, grids=13),  # same clinic, room for two
        doctor(2, clinic=CLINIC_B, grids=5),  # same township
        doctor(3, clinic=CLINIC_C, township=TOWNSHIP_2, grids=0),  # elsewhere: never suggested
    ]
    suggestion = suggest_reassignment(grids, doctors)
    chosen = list(suggestion.values())
    assert chosen.count(101) == 2
    assert chosen.count(102) == 4
    assert 103 not in chosen


def test_the_suggestion_leaves_a_grid_without_doctor_when_nobody_has_room() -> None:
    suggestion = suggest_reassignment([grid(1)], [doctor(1, grids=15)])
    assert suggestion == {1: None}


def test_named_doctors_are_used_wherever_they_work() -> None:
    far = doctor(3, clinic=CLINIC_C, township=TOWNSHIP_2)
    assert suggest_reassignment([grid(1)], [far]) == {1: None}
    assert suggest_reassignment([grid(1)], [far], anywhere=True) == {1: 103}
