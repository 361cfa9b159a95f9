"""The demo county keeps Jiexiu's arithmetic: grids of about 20, about 15 a doctor."""

from __future__ import annotations

from collections import Counter

import pytest

from grids.demo.synthetic import JIEXIU_TOWNSHIPS, formation_input, generate_county
from grids.formation.planner import form_grids


@pytest.mark.parametrize("seed", [48, 7])
def test_the_jiexiu_sized_county_forms_about_600_grids_for_about_40_doctors(seed: int) -> None:
    county = generate_county(seed=seed)
    plan = form_grids(formation_input(county))
    figures, report = plan.report.figures, plan.report

    assert 580 <= figures.grids <= 650
    assert figures.mean_size >= 16
    assert figures.grids <= 1.15 * figures.min_grids
    assert 38 <= len(county.doctors) <= 46
    assert 250 <= len(county.patients) / len(county.doctors) <= 300
    levels = Counter(row["level"] for row in county.facilities)
    assert levels["township_center"] + levels["community_center"] == JIEXIU_TOWNSHIPS
    # Every grid has a doctor, a coordinator and a deputy.
    assert report.unassigned == 0
    assert report.needs_coordinator == []
    assert report.needs_deputy == 0
    assert all(grid.doctor_id and grid.deputy_id for grid in plan.new_grids)


def test_ladder_facilities_have_duty_mobiles_that_get_sms() -> None:
    county = generate_county(patients=2000)
    for row in county.facilities:
        if row["level"] in ("county_hospital", "township_center", "community_center"):
            assert row["phone"].startswith("1") and len(row["phone"]) == 11, row


@pytest.mark.parametrize("patients", [50, 600, 3000])
def test_a_county_of_any_size_has_every_grid_staffed(patients: int) -> None:
    plan = form_grids(formation_input(generate_county(patients=patients)))
    assert plan.report.unassigned == 0
    assert plan.report.needs_coordinator == []
