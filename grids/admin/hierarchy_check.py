"""An operation may add no problem to `grids check`.

The check runs on the part of the hierarchy the operation touches (its grids with
their members, its doctors with all their grids, the clinics involved), once before
the changes and once after them, in the same transaction. A problem found after and
not before is the operation's doing: it is listed with the operation's problems and
stops it unless overridden with a reason, like the rules' own problems. A problem
the rules already name for the same grid or doctor is not listed twice, and a plan
may accept what the operation is defined to leave (a split's new grid without a
volunteer is listed as needing a coordinator).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sqlalchemy.orm import Session

from grids.admin.rules import Problem, problem
from grids.escalation.check import NOTICE, check_hierarchy
from grids.escalation.check import Problem as CheckProblem
from grids.escalation.roster_graph import load_hierarchy_around

Found = dict[tuple[str, str], CheckProblem]
"""(check code, subject code) -> the problem."""

COVERED_BY: Mapping[str, tuple[str, str]] = {
    "grid_without_doctor": ("no_doctor_for", "grid"),
    "grid_without_coordinator": ("coordinator_leaves", "grid"),
    "doctor_over_capacity": ("doctor_full", "doctor"),
    "grid_over_capacity": ("grid_full", "grid"),
}
"""A check problem -> the rule problem (and its parameter naming the subject) that
already says the same."""


def check_around(session: Session, grid_ids: Collection[int], doctor_ids: Collection[int]) -> Found:
    """The `grids check` problems of these grids and doctors and of their clinics."""
    hierarchy = load_hierarchy_around(session, grid_ids=grid_ids, doctor_ids=doctor_ids)
    return {(found.code, found.subject): found for found in check_hierarchy(hierarchy)}


def added_problems(
    before: Found,
    after: Found,
    named: Iterable[Problem] = (),
    accepted: Collection[tuple[str, str]] = (),
) -> list[Problem]:
    """The problems `after` has and `before` had not, as overridable operation problems
    (`check_<code>`), less those the rules already `named` or the plan `accepted`."""
    said = {(p.code, str(p.params.get(param))) for p in named for param in ("grid", "doctor")}
    added: list[Problem] = []
    for key, found in sorted(after.items()):
        if key in before or key in accepted or found.severity == NOTICE:
            continue
        covering = COVERED_BY.get(found.code)
        if covering is not None and (covering[0], found.subject) in said:
            continue
        added.append(
            problem(
                f"check_{found.code}",
                True,
                subject=found.subject,
                severity=found.severity,
                **found.params,
            )
        )
    return added
