"""A province's rollup runs in slices of patients on connections of their own: every
subject's indicators are those of the one statement, also for grids whose members
fall in two slices."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Membership
from grids.rollups import queries, slices
from grids.rollups.period import WeekPeriod
from grids.rollups.service import compute_week
from tests.support import factories
from tests.support import rollup_fixture as fx

pytestmark = pytest.mark.postgres
PERIOD = WeekPeriod(fx.WEEK, ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def province(session):
    """The worked-example county, two more grids, and follow-ups across the year."""
    fx.build(session)
    tree = factories.facility_tree(session, prefix="S")
    for clinic in ("clinic_a", "clinic_b"):
        factories.grid_with_members(session, tree[clinic], size=7)
    session.execute(
        update(Membership).where(Membership.left_at.is_(None)).values(joined_at=fx.LONG_AGO)
    )
    rng = random.Random(48)
    for membership in session.scalars(select(Membership)):
        for _ in range(rng.randint(0, 3)):
            visit = date(2026, 11, 29) - timedelta(days=rng.randint(0, 400))
            systolic = rng.choice([None, 128, 152])
            classification = "uncontrolled" if systolic == 152 else "controlled"
            session.add(
                Followup(
                    patient_id=membership.patient_id,
                    grid_id=membership.grid_id,
                    visit_date=visit,
                    method=rng.choice(["clinic", "phone", "home", "exchange"]),
                    symptoms=[],
                    medicines=[],
                    adverse_reaction=False,
                    systolic=systolic,
                    diastolic=None if systolic is None else systolic - 50,
                    glucose_mmol=Decimal("8.1") if systolic is None else None,
                    classification=classification,
                    next_due=rules.next_due(
                        visit, rules.Classification(classification), referred=False
                    ),
                    next_due_reason="routine",
                    recorded_by="test",
                )
            )
    session.commit()


def test_the_sliced_rollup_equals_the_one_statement(
    session, province, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = compute_week(session, PERIOD, fx.NOW).values
    session.rollback()
    assert len(slices.slice_bounds(session)) == 1  # a small database is not sliced

    monkeypatch.setattr(slices, "SLICE_ABOVE", 0)
    monkeypatch.setattr(slices, "SLICES", 3)
    bounds = slices.slice_bounds(session)
    assert len(bounds) == 3
    rows = queries.member_counts_started(session, PERIOD, None)()
    grids = {row[0] for row in rows}
    assert len(rows) > len(grids), "no grid has members in two slices: the test proves less"
    sliced = compute_week(session, PERIOD, fx.NOW).values

    assert sliced == whole
    assert any(values["followups_overdue"] for values in whole.values())
    assert [values["members"] for (level, _), values in whole.items() if level == "county"]


def test_the_slices_cover_every_patient_once(session, province, monkeypatch) -> None:
    monkeypatch.setattr(slices, "SLICE_ABOVE", 0)
    ids = sorted(session.scalars(select(Membership.patient_id)))
    for count in (2, 3, 7):
        bounds = slices.slice_bounds(session, slices=count)
        assert bounds[0][0] == ids[0] and bounds[-1][1] == ids[-1] + 1
        assert all(a[1] == b[0] for a, b in pairwise(bounds))
        assert all(lo < hi for lo, hi in bounds)
