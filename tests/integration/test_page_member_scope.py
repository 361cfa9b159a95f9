"""A page's members' statement (the doctor's list, a township's overdue members) names its
grids' patients and reads only their rows, follow-ups included, and colours each member
as the week's counts do."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Grid, Membership
from grids.rollups import queries, scope
from grids.rollups.boards import member_rows
from grids.rollups.period import WeekPeriod
from grids.rollups.service import compute_week
from tests.support import rollup_fixture as fx

TZ = ZoneInfo("Asia/Shanghai")
PERIOD = WeekPeriod(fx.WEEK, TZ)


@pytest.fixture
def county(session):
    built = fx.build(session)
    for membership in session.scalars(select(Membership)):
        for day in (date(2026, 6, 1), date(2026, 9, 1)):
            session.add(
                Followup(
                    patient_id=membership.patient_id,
                    grid_id=membership.grid_id,
                    visit_date=day,
                    method="clinic",
                    symptoms=[],
                    medicines=[],
                    adverse_reaction=False,
                    systolic=128,
                    diastolic=82,
                    classification="controlled",
                    next_due=rules.next_due(day, rules.Classification.CONTROLLED, referred=False),
                    next_due_reason="routine",
                    recorded_by="test",
                )
            )
    session.commit()
    return built


def _colours(rows) -> dict[str, str]:
    return {row.code: row.colour for row in rows}


def test_a_page_colours_each_member_as_the_counts_do(session, county) -> None:
    grid_ids = [grid.id for grid in county.grids.values()]
    listed = member_rows(session, PERIOD, grid_ids)
    counts = compute_week(session, PERIOD, fx.NOW).values
    for grid in county.grids.values():
        shown = Counter(row.colour for row in listed if row.grid_code == grid.code)
        figures = counts[("grid", grid.code)]
        assert (shown["red"], shown["yellow"], shown["green"]) == (
            figures["red"],
            figures["yellow"],
            figures["green"],
        ), grid.code
    assert {"red", "yellow", "green"} <= {row.colour for row in listed}


def test_a_page_too_large_to_name_its_patients_finds_them_the_same(
    session, county, monkeypatch
) -> None:
    grid_ids = [grid.id for grid in county.grids.values()]
    named = member_rows(session, PERIOD, grid_ids)
    monkeypatch.setattr(scope, "LISTED_PATIENTS_UP_TO", 3)
    assert scope.scope_patients(session, grid_ids) is None
    assert _colours(member_rows(session, PERIOD, grid_ids)) == _colours(named)
    assert len(named) == 15


def _rows_read(plan: dict, relation: str) -> int:
    node = plan
    own = 0
    if node.get("Relation Name") == relation:
        own = node["Actual Rows"] * node["Actual Loops"]
    return own + sum(_rows_read(child, relation) for child in node.get("Plans", []))


@pytest.mark.postgres
def test_a_page_reads_only_its_own_members_follow_ups(session, county) -> None:
    """Without the scope, each load of a doctor's page ranked every follow-up of the
    province (four a year per member)."""
    grid = session.scalar(select(Grid).where(Grid.code == "R-A"))
    patients = scope.scope_patients(session, [grid.id])
    assert patients
    statement = queries.member_status(PERIOD, [grid.id], patients)
    sql = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = session.scalar(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))
    if isinstance(plan, str):
        plan = json.loads(plan)
    own = session.scalar(
        select(text("count(*)")).select_from(Followup).where(Followup.patient_id.in_(patients))
    )
    everyone = session.scalar(select(text("count(*)")).select_from(Followup))
    assert own < everyone
    # Three parts read these follow-ups (the latest, face to face, the latest BP); the
    # latest glucose finds none.
    assert 0 < _rows_read(plan[0]["Plan"], "followups") <= 3 * own
