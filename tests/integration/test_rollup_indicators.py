"""Every indicator on a hand-made county with known answers (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from grids.models import Reading, WeeklyReport
from grids.rollups.models import RollupSnapshot
from grids.rollups.period import WeekPeriod
from grids.rollups.service import (
    RollupError,
    compute_week,
    rollup_document,
    snapshot_closed_weeks,
)
from tests.support import rollup_fixture as fx

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def county(session):
    built = fx.build(session)
    session.commit()
    return built


def _doc(session, level: str, code: str, now=fx.NOW, week=fx.WEEK) -> dict:
    return rollup_document(session, level, code, week, now, TZ)


@pytest.mark.parametrize(
    ("grid", "expected"),
    [("R-A", fx.EXPECTED_GRID_A), ("R-B", fx.EXPECTED_GRID_B), ("R-C", fx.EXPECTED_GRID_C)],
)
def test_grid_indicators_match_the_hand_worked_answers(session, county, grid, expected) -> None:
    doc = _doc(session, "grid", grid)
    assert doc["level"] == "grid" and doc["code"] == grid and doc["week"] == fx.WEEK
    assert doc["provisional"] is False
    assert doc["indicators"] == expected


def test_doctor_township_and_county_add_up(session, county) -> None:
    doctor = _doc(session, "doctor", county.codes["d1"])["indicators"]
    assert doctor["members"] == 13
    assert doctor["grids"] == 2 and doctor["grids_reported"] == 2
    assert doctor["urgent"] == 2
    assert doctor["urgent_ack_median_s"] == 750  # median of 300 s and 1200 s
    assert doctor["urgent_ack_max_s"] == 1200
    assert doctor["urgent_past_doctor"] == 1
    assert doctor["red"] == 4 and doctor["yellow"] == 6 and doctor["green"] == 3

    township = _doc(session, "township", county.codes["township"])["indicators"]
    county_doc = _doc(session, "county", county.codes["county"])["indicators"]
    for values in (township, county_doc):
        assert values["members"] == 15
        assert values["grids"] == 3 and values["grids_reported"] == 2
        assert values["dm_denominator"] == 3
        assert values["glucose_uncontrolled"] == 2 and values["glucose_controlled"] == 1
        assert values["deaths"] == 1 and values["avg_age_at_death"] == 86.0


def test_the_week_ignores_data_after_its_end_whatever_the_clock(session, county) -> None:
    later = datetime(2027, 3, 1, tzinfo=UTC)
    assert _doc(session, "grid", "R-A", now=later)["indicators"] == fx.EXPECTED_GRID_A


def test_moved_member_counts_where_they_were(session, county) -> None:
    # In W41 (before the move on 20 October) a7 was in B.
    before = _doc(session, "grid", "R-B", week="2026-W41")["indicators"]
    after = _doc(session, "grid", "R-B", week=fx.WEEK)["indicators"]
    assert before["members"] == 4
    assert after["members"] == 3


def test_current_week_is_provisional(session, county) -> None:
    doc = _doc(session, "grid", "R-A", week="2026-W49")
    assert doc["provisional"] is True
    assert doc["as_of"] == fx.NOW.isoformat()


def test_late_report_revises_the_snapshot_and_is_flagged(session, county) -> None:
    snapshot_closed_weeks(session, fx.NOW, TZ)
    session.commit()
    first = _doc(session, "grid", "R-C")
    assert first["indicators"]["grids_reported"] == 0
    assert first["revised"] is False
    assert first["as_of"] == fx.NOW.isoformat()

    # The report for W48 arrives late (stored after the week's end).
    late = fx.NOW + timedelta(days=1)
    session.add(
        WeeklyReport(
            grid_id=county.grids["C"].id,
            week=fx.WEEK,
            coordinator_id=county.patients["c1"].id,
            all_stable=True,
            first_received_at=late,
            last_received_at=late,
        )
    )
    session.commit()
    # The snapshot holds until the trailing weeks are recomputed...
    assert _doc(session, "grid", "R-C", now=late)["indicators"]["grids_reported"] == 0
    snapshot_closed_weeks(session, late, TZ)
    session.commit()
    revised = _doc(session, "grid", "R-C", now=late)
    assert revised["indicators"]["grids_reported"] == 1
    assert revised["revised"] is True
    assert revised["as_of"] == late.isoformat()
    # ...and weeks the late report did not touch stay as they were.
    unchanged = session.scalar(
        select(RollupSnapshot).where(
            RollupSnapshot.week == "2026-W47",
            RollupSnapshot.level == "grid",
            RollupSnapshot.code == "R-C",
        )
    )
    assert unchanged.revisions == 1


def test_whole_population_in_one_computation(session, county) -> None:
    rollup = compute_week(session, WeekPeriod(fx.WEEK, TZ), fx.NOW)
    assert rollup.values[("grid", "R-A")] == fx.EXPECTED_GRID_A
    assert ("doctor", "RD2") in rollup.values


def test_unknown_subject_and_bad_weeks_are_refused(session, county) -> None:
    with pytest.raises(RollupError) as unknown:
        _doc(session, "grid", "NOPE")
    assert unknown.value.key == "rollups.error.unknown_subject"
    with pytest.raises(RollupError) as bad:
        _doc(session, "grid", "R-A", week="2026-48")
    assert bad.value.key == "rollups.error.bad_week"
    with pytest.raises(RollupError) as future:
        _doc(session, "grid", "R-A", week="2027-W10")
    assert future.value.key == "rollups.error.future_week"


def test_readings_after_the_week_do_not_change_it(session, county) -> None:
    session.add(
        Reading(
            patient_id=county.patients["a11"].id,
            week="2026-W50",
            kind="bp",
            systolic=120,
            diastolic=70,
            reported_at=fx.NOW,
        )
    )
    session.commit()
    later = datetime(2026, 12, 20, tzinfo=UTC)
    assert _doc(session, "grid", "R-A", now=later)["indicators"]["lost_to_follow_up"] == 1


def test_counting_one_doctors_grids_gives_the_same_figures(session, county) -> None:
    from grids.rollups.places import grid_places

    period = WeekPeriod(fx.WEEK, TZ)
    whole = compute_week(session, period, fx.NOW)
    places = [place for place in grid_places(session) if place.doctor_code == "RD1"]
    part = compute_week(session, period, fx.NOW, places=places)
    assert part.values[("doctor", "RD1")] == whole.values[("doctor", "RD1")]
    assert part.values[("grid", "R-A")] == fx.EXPECTED_GRID_A
    assert ("grid", "R-C") not in part.values
