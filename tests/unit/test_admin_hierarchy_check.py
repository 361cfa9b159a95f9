"""Which `grids check` problems an operation adds, from the problems before and after it."""

from __future__ import annotations

from grids.admin.hierarchy_check import added_problems
from grids.admin.rules import problem
from grids.escalation.check import Problem


def found(*problems: Problem) -> dict[tuple[str, str], Problem]:
    return {(p.code, p.subject): p for p in problems}


NO_COORDINATOR = Problem("grid_without_coordinator", "error", "G01")
CROWDED = Problem("doctor_over_capacity", "warning", "D01", {"count": 16, "limit": 15})


def test_only_problems_found_after_and_not_before_are_added_and_may_be_overridden() -> None:
    added = added_problems(found(CROWDED), found(CROWDED, NO_COORDINATOR))
    assert [(p.code, p.params["subject"], p.overridable) for p in added] == [
        ("check_grid_without_coordinator", "G01", True)
    ]
    assert added[0].key == "admin.problem.check_grid_without_coordinator"


def test_a_problem_already_there_is_not_the_operations_doing() -> None:
    assert added_problems(found(NO_COORDINATOR), found(NO_COORDINATOR)) == []


def test_the_rules_naming_the_same_grid_or_doctor_cover_it() -> None:
    named = [problem("coordinator_leaves", True, patient="P1", grid="G01")]
    assert added_problems(found(), found(NO_COORDINATOR), named) == []
    elsewhere = [problem("coordinator_leaves", True, patient="P1", grid="G02")]
    assert len(added_problems(found(), found(NO_COORDINATOR), elsewhere)) == 1
    full = [problem("doctor_full", True, doctor="D01", grids=16, limit=15)]
    assert added_problems(found(), found(CROWDED), full) == []


def test_what_the_plan_accepts_is_not_added() -> None:
    accepted = {("grid_without_coordinator", "G01")}
    assert added_problems(found(), found(NO_COORDINATOR), accepted=accepted) == []
