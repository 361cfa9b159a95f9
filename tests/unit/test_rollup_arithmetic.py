"""Rollup arithmetic, the doctor's priorities and the chart, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from grids.rollups.charts import Series, trend_chart
from grids.rollups.indicators import (
    GridPlace,
    UrgentCase,
    indicators,
    rate,
    roll_up,
)
from grids.rollups.needs import first_grid, grid_needs
from grids.rollups.period import WeekPeriod, shift_week, weeks_back

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
END = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)


def _case(grid: int, seconds: int | None, by_doctor: bool = True) -> UrgentCase:
    acked = None if seconds is None else T0 + timedelta(seconds=seconds)
    return UrgentCase(grid, T0, acked, by_doctor)


def test_counts_add_up_the_hierarchy_and_medians_come_from_the_cases() -> None:
    places = [
        GridPlace(1, "G1", "D1", "T1", "C"),
        GridPlace(2, "G2", "D1", "T1", "C"),
        GridPlace(3, "G3", "D2", "T1", "C"),
    ]
    counts = {1: {"members": 10, "red": 1}, 2: {"members": 5, "red": 2}, 3: {"members": 7}}
    cases = [_case(1, 300), _case(2, 1200), _case(3, 100), _case(3, None)]
    totals = roll_up(places, counts, cases)
    doctor = indicators(totals[("doctor", "D1")], week_end=END, doctor_timeout_s=600)
    assert doctor["members"] == 15 and doctor["red"] == 3
    assert doctor["urgent"] == 2
    assert doctor["urgent_ack_median_s"] == 750
    assert doctor["urgent_ack_max_s"] == 1200
    assert doctor["urgent_past_doctor"] == 1
    county = indicators(totals[("county", "C")], week_end=END, doctor_timeout_s=600)
    assert county["members"] == 22
    assert county["urgent"] == 4 and county["urgent_open"] == 1
    assert county["urgent_ack_median_s"] == 300  # median of 100, 300, 1200
    assert county["urgent_past_doctor"] == 2  # 1200 s, and the open one past 10 minutes


def test_acknowledged_by_someone_else_climbed_past_the_doctor() -> None:
    assert _case(1, 60, by_doctor=False).past_doctor(600, END)
    assert not _case(1, 600).past_doctor(600, END)
    assert _case(1, 601).past_doctor(600, END)


def test_average_age_at_death_rests_on_deaths_with_a_birth_year() -> None:
    totals = roll_up(
        [GridPlace(1, "G1", None, None, "C")],
        {1: {"deaths": 3, "death_age_sum": 150, "deaths_with_age": 2}},
        [],
    )
    values = indicators(totals[("county", "C")], week_end=END, doctor_timeout_s=600)
    assert values["deaths"] == 3 and values["avg_age_at_death"] == 75.0
    assert rate(2, 9) == 22.2 and rate(1, 0) is None


def test_the_doctor_looks_first_where_urgent_cases_are_open() -> None:
    values = {
        "A": {"red": 3, "grids_reported": 1, "members": 20},
        "B": {"red": 0, "grids_reported": 0, "members": 20},
        "C": {"red": 1, "grids_reported": 1, "members": 20},
    }
    needs = grid_needs(["C", "A", "B"], values, {"C": 1})
    assert [need.code for need in needs] == ["C", "A", "B"]
    first = first_grid(needs)
    assert first is not None and first.number == 3  # C is the third grid by code
    calm = grid_needs(["A"], {"A": {"grids_reported": 1, "members": 20}}, {})
    assert first_grid(calm) is None


def test_weeks_cross_the_year_and_the_period_ends_at_local_midnight() -> None:
    assert shift_week("2027-W01", -1) == "2026-W53"
    assert weeks_back("2027-W02", 3) == ["2026-W53", "2027-W01", "2027-W02"]
    from zoneinfo import ZoneInfo

    period = WeekPeriod("2026-W48", ZoneInfo("Asia/Shanghai"))
    assert period.start == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert period.end == END
    assert period.control_from == "2026-W36"


def test_chart_draws_the_provisional_week_dashed() -> None:
    svg = trend_chart(
        "t",
        ["W1", "W2", "W3"],
        [Series("bp", "#000", [10.0, None, 50.0])],
        provisional_last=True,
        provisional_label="provisional",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'class="provisional"' in svg
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
