"""The national follow-up fields of the rollups, on a pinned week across a year boundary."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Membership
from tests.support import factories

WEEK = "2027-W05"  # Monday 1 to Sunday 7 February 2027


def _followup(session, patient, day: str, method: str, bp: tuple[int, int] | None = None):
    visit = date.fromisoformat(day)
    uncontrolled = bp is not None and (bp[0] >= 140 or bp[1] >= 90)
    classification = "uncontrolled" if uncontrolled else "controlled"
    session.add(
        Followup(
            patient_id=patient.id,
            grid_id=None,
            visit_date=visit,
            method=method,
            symptoms=[],
            medicines=[],
            adverse_reaction=False,
            systolic=bp[0] if bp else None,
            diastolic=bp[1] if bp else None,
            glucose_mmol=None if bp else Decimal("6.0"),
            classification=classification,
            next_due=rules.next_due(visit, rules.Classification(classification), referred=False),
            next_due_reason="routine",
            recorded_by="test",
        )
    )


@pytest.fixture
def grid(session):
    tree = factories.facility_tree(session, prefix="R")
    made = factories.grid_with_members(session, tree["clinic_a"], size=4, code="NR-G1")
    for membership in session.scalars(select(Membership)):
        membership.joined_at = datetime(2025, 6, 1, 2, tzinfo=UTC)
    seat = {n: made.members[n] for n in range(1, 5)}
    session.scalar(
        select(Membership).where(Membership.patient_id == seat[3].id)
    ).joined_at = datetime(2026, 7, 15, 2, tzinfo=UTC)
    # Seat 1: four face to face in the 12 months, across the new year (phone not counted).
    for day, method in (
        ("2026-03-10", "clinic"),
        ("2026-06-10", "exchange"),
        ("2026-09-10", "phone"),
        ("2026-10-10", "home"),
    ):
        _followup(session, seat[1], day, method, (150, 95))
    _followup(session, seat[1], "2027-02-03", "exchange", (130, 80))
    # Seat 2: two face to face; the latest uncontrolled, due again 3 January.
    _followup(session, seat[2], "2026-03-10", "clinic", (135, 85))
    _followup(session, seat[2], "2026-09-10", "phone", (135, 85))
    _followup(session, seat[2], "2026-12-20", "clinic", (150, 95))
    # Seat 3 joined in July: four follow-ups since, not in the denominator.
    for day in ("2026-08-01", "2026-10-01", "2026-12-01", "2027-01-20"):
        _followup(session, seat[3], day, "clinic", (120, 70))
    # Seat 4: never followed up.
    for f in session.scalars(select(Followup)):
        f.grid_id = made.grid.id
    session.commit()
    return made


def _indicators(runner, week: str, at: str) -> dict:
    """The grid's indicators for `week` as `rollups show` prints them at `at`."""
    result = runner.invoke(
        args=[
            "rollups", "show", "--level", "grid", "--code", "NR-G1", "--week", week,
            "--format", "json", "--at", at,
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["indicators"]


def test_the_national_fields_of_a_week(runner, grid) -> None:
    values = _indicators(runner, WEEK, "2027-02-10T10:00:00")
    assert {name: values[name] for name in (
        "followups_done", "followups_overdue", "standard_managed",
        "standard_managed_denominator", "followup_bp_controlled", "followup_glucose_controlled",
    )} == {
        "followups_done": 1,
        "followups_overdue": 2,
        "standard_managed": 1,
        "standard_managed_denominator": 3,
        "followup_bp_controlled": 1,
        "followup_glucose_controlled": 0,
    }  # fmt: skip


def test_a_year_later_the_old_visits_have_left_the_window(runner, grid) -> None:
    values = _indicators(runner, "2027-W12", "2027-03-30T10:00:00")
    # By 28 March 2027 the visit of 10 March 2026 is out: seat 1 has three left; seat 3,
    # which joined in July 2026, is still not under management the whole 12 months.
    assert (values["standard_managed"], values["standard_managed_denominator"]) == (0, 3)
    assert values["followups_done"] == 0


def test_a_member_last_seen_before_the_year_is_due_when_that_visit_said(
    runner, session, grid
) -> None:
    # Seat 4, never followed up in the 12 months, was seen twice before them; at the
    # later visit the doctor set the next one for June 2027, after this week.
    seat_4 = grid.members[4]
    _followup(session, seat_4, "2025-09-01", "clinic", (120, 70))
    _followup(session, seat_4, "2025-12-01", "clinic", (120, 70))
    session.flush()
    later = session.scalar(
        select(Followup).where(
            Followup.patient_id == seat_4.id, Followup.visit_date == date(2025, 12, 1)
        )
    )
    later.next_due, later.next_due_reason, later.grid_id = date(2027, 6, 1), "set", grid.grid.id
    session.commit()
    values = _indicators(runner, WEEK, "2027-02-10T10:00:00")
    # Only seat 2 is overdue now; the old visits count neither as visits nor as control.
    assert values["followups_overdue"] == 1
    assert (values["standard_managed"], values["standard_managed_denominator"]) == (1, 3)
    assert values["followup_bp_controlled"] == 1
