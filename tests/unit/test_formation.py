"""Grid formation rules, on small counties in memory."""

from __future__ import annotations

from dataclasses import replace

from grids.formation.planner import form_grids
from grids.formation.planner_records import LeaveReason, Shortfall
from tests.support.formation import County

TOWNSHIP = 9000
OTHER_TOWNSHIP = 9001


def test_45_patients_of_one_condition_make_three_grids_of_15() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 45)

    plan = county.form()

    assert county.sizes() == {"JX0101-HTN01": 15, "JX0101-HTN02": 15, "JX0101-HTN03": 15}
    assert plan.report.grids_created == 3
    assert plan.report.placed_in_new == 45
    for grid in county.grids.values():
        assert sorted(member.seat for member in grid.members) == list(range(1, 16))


def test_21_patients_split_11_and_10_not_20_and_1() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 21, "diabetes")

    county.form()

    assert county.sizes() == {"JX0101-DM01": 11, "JX0101-DM02": 10}


def test_22_of_one_condition_and_6_of_others_make_two_grids_not_three() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 22, "hypertension")
    county.patients_of(clinic, 3, "stroke")
    county.patients_of(clinic, 3, "copd")

    plan = county.form()

    assert county.sizes() == {"JX0101-HTN01": 14, "JX0101-MIX01": 14}
    assert county.grid("JX0101-MIX01").condition == "mixed"
    assert plan.report.figures.grids == plan.report.figures.min_grids == 2
    assert plan.report.figures.mixed_grids == 1
    assert plan.report.figures.mean_size == 14.0
    assert plan.report.figures.same_condition_share == 1.0


def test_a_village_of_seven_forms_one_grid_of_seven() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 4, "hypertension", volunteer=True)
    county.patients_of(clinic, 2, "diabetes")
    county.patients_of(clinic, 1, "stroke")

    plan = county.form()

    assert county.sizes() == {"JX0101-MIX01": 7}
    assert plan.report.small_grids == ["JX0101-MIX01"]
    assert plan.report.figures.small_grids == 1
    assert county.grid("JX0101-MIX01").coordinator_id is not None


def test_a_clinic_of_many_conditions_forms_one_grid_per_twenty_not_one_per_condition() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    for condition, count in (("hypertension", 30), ("diabetes", 12), ("stroke", 5)):
        county.patients_of(clinic, count, condition)
    county.patients_of(clinic, 3, "copd")
    county.patients_of(clinic, 2, "ckd")

    plan = county.form()

    assert sorted(county.sizes().values()) == [17, 17, 18]
    assert plan.report.figures.grids == 3 == plan.report.figures.min_grids


def test_a_small_village_of_one_condition_forms_a_grid_of_that_condition_listed_as_small() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 2, "diabetes")

    plan = county.form()

    assert county.sizes() == {"JX0101-DM01": 2}
    assert plan.report.small_grids == ["JX0101-DM01"]


def test_a_comorbid_patient_fills_a_grid_of_a_condition_he_lists() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 18, "hypertension")
    comorbid = county.patients_of(clinic, 3, "diabetes", conditions=("diabetes", "hypertension"))

    county.form()

    assert county.sizes() == {"JX0101-HTN01": 11, "JX0101-HTN02": 10}
    placement = county.placement()
    assert {county.grids[placement[p.id][0]].condition for p in comorbid} == {"hypertension"}


def test_a_comorbid_newcomer_joins_a_grid_of_his_second_condition_before_a_new_grid() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 15, "hypertension")
    county.form()

    newcomer = county.patient(clinic, "stroke", conditions=("stroke", "hypertension"))
    plan = county.form()

    assert plan.new_grids == []
    assert county.grids[county.placement()[newcomer.id][0]].code == "JX0101-HTN01"


def test_volunteers_are_swapped_so_each_grid_has_a_coordinator_and_a_deputy() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 4, "hypertension", volunteer=True)
    county.patients_of(clinic, 36, "hypertension")

    county.form()

    for grid in county.grids.values():
        volunteers = [m for m in grid.members if county.patients[m.patient_id].volunteer]
        assert len(volunteers) == 2


def test_a_grid_without_a_volunteer_with_a_phone_has_no_coordinator() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 8, volunteer=False)
    county.patient(clinic, volunteer=True, has_phone=False)

    plan = county.form()

    grid = county.grid("JX0101-HTN01")
    assert grid.coordinator_id is None
    assert plan.report.needs_coordinator == ["JX0101-HTN01"]


def test_volunteers_are_spread_so_each_grid_gets_a_coordinator_on_seat_1() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 40)
    volunteers = county.patients_of(clinic, 5, volunteer=True)

    plan = county.form()

    coordinators = set()
    for grid in county.grids.values():
        seat_one = next(member.patient_id for member in grid.members if member.seat == 1)
        assert grid.coordinator_id == seat_one
        coordinators.add(grid.coordinator_id)
    assert coordinators <= {volunteer.id for volunteer in volunteers}
    assert len(coordinators) == 3
    assert plan.report.needs_coordinator == []
    assert sorted(county.sizes().values()) == [15, 15, 15]


def test_with_fewer_volunteers_than_grids_the_rest_need_a_coordinator() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 43)
    county.patients_of(clinic, 2, volunteer=True)

    plan = county.form()

    assert len(plan.report.needs_coordinator) == 1
    assert sum(grid.coordinator_id is not None for grid in county.grids.values()) == 2
    assert sorted(county.sizes().values()) == [15, 15, 15]


def test_members_other_than_the_coordinator_sit_in_patient_code_order() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patient(clinic, code="P3")
    county.patient(clinic, code="P1")
    leader = county.patient(clinic, code="P9", volunteer=True)
    county.patient(clinic, code="P2")
    county.patient(clinic, code="P5")

    county.form()

    grid = county.grid("JX0101-HTN01")
    codes = {member.seat: county.patients[member.patient_id].code for member in grid.members}
    assert grid.coordinator_id == leader.id
    assert codes == {1: "P9", 2: "P1", 3: "P2", 4: "P3", 5: "P5"}


def test_grids_are_balanced_between_a_clinics_doctors() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    first = county.doctor(clinic, "D1")
    second = county.doctor(clinic, "D2")
    county.patients_of(clinic, 100)  # 5 grids
    county.patients_of(clinic, 80, "diabetes")  # 4 grids

    plan = county.form()

    loads = {first.id: 0, second.id: 0}
    for grid in county.grids.values():
        loads[grid.doctor_id] += 1  # type: ignore[index]
    assert loads == {first.id: 5, second.id: 4}
    assert (plan.report.doctor_load_min, plan.report.doctor_load_max) == (4, 5)


def test_a_doctor_never_gets_more_than_15_grids_and_the_shortfall_is_reported() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    doctor = county.doctor(clinic, "D1")
    county.patients_of(clinic, 17 * 20)

    plan = county.form()

    assigned = [grid for grid in county.grids.values() if grid.doctor_id == doctor.id]
    assert len(county.grids) == 17
    assert len(assigned) == 15
    assert plan.report.shortfalls == [Shortfall("JX0101", unassigned=2, doctors_available=1)]
    assert plan.report.unassigned == 2


def test_grids_held_elsewhere_count_towards_the_cap() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.doctor(clinic, "D1", external_load=13)
    county.patients_of(clinic, 60)

    plan = county.form()

    assert sum(grid.doctor_id is not None for grid in county.grids.values()) == 2
    assert plan.report.shortfalls == [Shortfall("JX0101", 1, 1)]


def test_a_clinic_without_a_doctor_is_covered_by_its_townships_other_doctors() -> None:
    county = County()
    with_doctor = county.clinic("JX0101", TOWNSHIP)
    without = county.clinic("JX0102", TOWNSHIP)
    elsewhere = county.clinic("JX0201", OTHER_TOWNSHIP)
    doctor = county.doctor(with_doctor, "D1")
    county.patients_of(with_doctor, 10)
    county.patients_of(without, 30)
    county.patients_of(elsewhere, 10)

    plan = county.form()

    assert {grid.code: grid.doctor_id for grid in county.grids.values()} == {
        "JX0101-HTN01": doctor.id,
        "JX0102-HTN01": doctor.id,
        "JX0102-HTN02": doctor.id,
        "JX0201-HTN01": None,
    }
    assert plan.report.shortfalls == [Shortfall("JX0201", 1, 0)]


def test_covering_doctors_take_their_own_clinics_grids_first() -> None:
    county = County()
    own = county.clinic("JX0101", TOWNSHIP)
    uncovered = county.clinic("JX0102", TOWNSHIP)
    doctor = county.doctor(own, "D1")
    county.patients_of(uncovered, 60)  # 3 grids
    county.patients_of(own, 14 * 20)  # 14 grids

    plan = county.form()

    own_grids = [grid for grid in county.grids.values() if grid.clinic_id == own.id]
    assert all(grid.doctor_id == doctor.id for grid in own_grids)
    assert plan.report.shortfalls == [Shortfall("JX0102", 2, 1)]


def test_a_shortage_in_cover_is_shared_between_villages() -> None:
    county = County()
    host = county.clinic("JX0101", TOWNSHIP)
    east = county.clinic("JX0102", TOWNSHIP)
    west = county.clinic("JX0103", TOWNSHIP)
    county.doctor(host, "D1", external_load=11)
    county.patients_of(east, 60)
    county.patients_of(west, 60)

    plan = county.form()

    assert plan.report.shortfalls == [Shortfall("JX0102", 1, 1), Shortfall("JX0103", 1, 1)]


def test_inactive_doctors_get_no_grids() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.doctor(clinic, "D1", active=False)
    county.patients_of(clinic, 10)

    plan = county.form()

    assert county.grid("JX0101-HTN01").doctor_id is None
    assert plan.report.shortfalls == [Shortfall("JX0101", 1, 0)]


def test_only_active_and_hospitalised_patients_are_placed() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    placed = county.patients_of(clinic, 5) + county.patients_of(clinic, 2, status="hospitalised")
    for status in ("deceased", "moved_away", "inactive"):
        county.patient(clinic, status=status)

    county.form()

    assert set(county.placement()) == {patient.id for patient in placed}


def test_a_rerun_with_no_change_changes_nothing() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.doctor(clinic)
    county.patients_of(clinic, 33)
    county.patients_of(clinic, 3, "copd")
    county.patients_of(clinic, 2, volunteer=True)
    county.form()

    again = form_grids(county.input())

    assert again.is_empty
    assert again.report.grids_created == 0


def test_new_patients_fill_existing_grids_first_emptiest_first_without_moving_anyone() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 33)  # 17 + 16
    county.form()
    before = county.placement()

    newcomers = county.patients_of(clinic, 5)
    plan = county.form()

    assert plan.report.grids_created == 0
    assert plan.report.placed_in_existing == 5
    assert county.sizes() == {"JX0101-HTN01": 19, "JX0101-HTN02": 19}
    after = county.placement()
    assert all(after[patient_id] == place for patient_id, place in before.items())
    assert {after[p.id][1] for p in newcomers} <= {17, 18, 19}


def test_a_newcomer_takes_the_lowest_free_seat() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    patients = county.patients_of(clinic, 10)
    county.form()
    county.update_patient(patients[3], status="deceased")
    county.form()

    newcomer = county.patient(clinic)
    county.form()

    assert county.placement()[newcomer.id][1] == 4


def test_newcomers_fill_the_clinics_grids_mixed_included_before_any_new_grid() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 40)
    county.patients_of(clinic, 2, "stroke")
    county.form()
    assert county.sizes() == {"JX0101-HTN01": 14, "JX0101-HTN02": 14, "JX0101-MIX01": 14}

    county.patients_of(clinic, 3)
    county.patients_of(clinic, 6, "diabetes")
    plan = county.form()

    assert county.sizes() == {"JX0101-HTN01": 16, "JX0101-HTN02": 15, "JX0101-MIX01": 20}
    assert plan.report.placed_in_existing == 9
    assert plan.report.placed_in_new == 0


def test_a_remainder_of_five_or_more_forms_new_balanced_grids_with_new_numbers() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 40)
    county.form()

    county.patients_of(clinic, 25)
    county.form()

    assert county.sizes() == {
        "JX0101-HTN01": 20,
        "JX0101-HTN02": 20,
        "JX0101-HTN03": 13,
        "JX0101-HTN04": 12,
    }


def test_grid_numbers_are_never_reused() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    first = county.patients_of(clinic, 6)
    county.form()
    for patient in first:
        county.update_patient(patient, status="moved_away")
    county.form()
    county.grids[county.grid("JX0101-HTN01").id].code = "JX0101-HTN07"

    county.patients_of(clinic, 30)
    county.form()

    assert sorted(county.sizes()) == ["JX0101-HTN07", "JX0101-HTN08"]


def test_members_who_die_or_move_away_leave_and_a_new_coordinator_is_chosen() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    leader = county.patient(clinic, volunteer=True)
    deputy = county.patient(clinic, volunteer=True)
    others = county.patients_of(clinic, 8)
    county.form()
    grid = county.grid("JX0101-HTN01")
    assert grid.coordinator_id in {leader.id, deputy.id}
    outgoing = leader if grid.coordinator_id == leader.id else deputy
    staying = deputy if outgoing is leader else leader

    county.update_patient(outgoing, status="deceased")
    county.update_patient(others[0], status="moved_away")
    plan = county.form()

    assert {(leave.patient_id, leave.reason) for leave in plan.leaves} == {
        (outgoing.id, "deceased"),
        (others[0].id, "moved_away"),
    }
    assert plan.report.left_by_reason == {"deceased": 1, "moved_away": 1}
    assert county.grid("JX0101-HTN01").coordinator_id == staying.id
    assert outgoing.id not in county.placement()


def test_a_grid_whose_only_volunteer_left_needs_a_coordinator() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    leader = county.patient(clinic, volunteer=True)
    county.patients_of(clinic, 6)
    county.form()

    county.update_patient(leader, status="inactive")
    plan = county.form()

    assert county.grid("JX0101-HTN01").coordinator_id is None
    assert plan.report.needs_coordinator == ["JX0101-HTN01"]


def test_a_new_volunteer_joins_a_grid_that_needs_a_coordinator_and_leads_it() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 30)  # 15 + 15, no coordinator
    county.form()
    county.patients_of(clinic, 4)  # fills, most free seats first
    newcomer = county.patient(clinic, volunteer=True)

    plan = county.form()

    led = [grid for grid in county.grids.values() if grid.coordinator_id == newcomer.id]
    assert len(led) == 1
    assert newcomer.id in {member.patient_id for member in led[0].members}
    assert plan.report.coordinators_appointed == 1
    assert len(plan.report.needs_coordinator) == 1


def test_an_existing_coordinator_is_never_replaced() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    first = county.patient(clinic, volunteer=True, code="P9")
    county.patients_of(clinic, 6)
    county.form()
    assert county.grid("JX0101-HTN01").coordinator_id == first.id

    county.patient(clinic, volunteer=True, code="P0")
    county.form()

    assert county.grid("JX0101-HTN01").coordinator_id == first.id


def test_a_member_whose_clinic_changed_leaves_and_is_placed_in_the_new_clinic() -> None:
    county = County()
    east = county.clinic("JX0101", TOWNSHIP)
    west = county.clinic("JX0102", TOWNSHIP)
    mover = county.patient(east)
    county.patients_of(east, 6)
    county.patients_of(west, 6)
    county.form()

    county.update_patient(mover, clinic_id=west.id)
    plan = county.form()

    assert [(leave.patient_id, leave.reason) for leave in plan.leaves] == [
        (mover.id, LeaveReason.FACILITY_CHANGED)
    ]
    grid_id, _ = county.placement()[mover.id]
    assert county.grids[grid_id].code == "JX0102-HTN01"
    assert county.sizes() == {"JX0101-HTN01": 6, "JX0102-HTN01": 7}


def test_an_unassigned_grid_gets_a_doctor_once_one_arrives() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patients_of(clinic, 10)
    county.form()
    assert county.grid("JX0101-HTN01").doctor_id is None

    doctor = county.doctor(clinic, "D1")
    plan = county.form()

    assert county.grid("JX0101-HTN01").doctor_id == doctor.id
    assert plan.report.grids_assigned == 1
    assert plan.report.shortfalls == []


def test_existing_assignments_are_never_moved() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    busy = county.doctor(clinic, "D1")
    county.patients_of(clinic, 60)
    county.form()

    county.doctor(clinic, "D0")
    plan = county.form()

    assert plan.is_empty
    assert {grid.doctor_id for grid in county.grids.values()} == {busy.id}


def test_scope_forms_only_the_given_clinics() -> None:
    county = County()
    east = county.clinic("JX0101", TOWNSHIP)
    west = county.clinic("JX0102", TOWNSHIP)
    county.patients_of(east, 6)
    county.patients_of(west, 6)

    county.form(scope={west.id})

    assert county.sizes() == {"JX0102-HTN01": 6}


def test_a_coordinator_who_stops_volunteering_or_loses_the_phone_is_replaced() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    quitting = county.patient(clinic, volunteer=True, code="P1")
    losing_phone = county.patient(clinic, "diabetes", volunteer=True, code="P2")
    county.patients_of(clinic, 18)
    county.patients_of(clinic, 19, "diabetes")
    backup = county.patient(clinic, volunteer=True, code="P3")
    county.form()
    assert county.grid("JX0101-HTN01").coordinator_id == quitting.id
    assert county.grid("JX0101-DM01").coordinator_id == losing_phone.id

    county.update_patient(quitting, volunteer=False)
    county.update_patient(losing_phone, has_phone=False)
    plan = county.form()

    assert county.grid("JX0101-HTN01").coordinator_id == backup.id
    assert county.grid("JX0101-DM01").coordinator_id is None
    assert plan.report.needs_coordinator == ["JX0101-DM01"]
    assert plan.leaves == []
    assert county.form().is_empty


def test_a_member_whose_primary_condition_changed_moves_to_a_grid_of_that_condition() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    changing = county.patient(clinic, code="P0")
    still_listing = county.patient(clinic, code="P00")
    county.patients_of(clinic, 18)
    county.patients_of(clinic, 19, "diabetes")
    county.form()
    assert county.sizes() == {"JX0101-DM01": 19, "JX0101-HTN01": 20}

    county.update_patient(changing, condition="diabetes")
    county.update_patient(
        still_listing, condition="diabetes", conditions=("diabetes", "hypertension")
    )
    plan = county.form()

    assert [(leave.patient_id, leave.reason) for leave in plan.leaves] == [
        (changing.id, LeaveReason.CONDITION_CHANGED)
    ]
    assert county.grids[county.placement()[changing.id][0]].code == "JX0101-DM01"
    assert county.sizes() == {"JX0101-DM01": 20, "JX0101-HTN01": 19}


def test_grids_of_a_doctor_no_longer_active_or_now_elsewhere_go_to_one_who_qualifies() -> None:
    county = County()
    east = county.clinic("JX0101", TOWNSHIP)
    west = county.clinic("JX0102", TOWNSHIP)
    far = county.clinic("JX0201", OTHER_TOWNSHIP)
    leaving = county.doctor(east, "D1")
    retiring = county.doctor(west, "D2")
    county.patients_of(east, 6)
    county.patients_of(west, 6)
    county.form()
    assert county.grid("JX0101-HTN01").doctor_id == leaving.id
    assert county.grid("JX0102-HTN01").doctor_id == retiring.id

    county.doctors[leaving.id] = replace(leaving, clinic_id=far.id)
    county.doctors[retiring.id] = replace(retiring, active=False)
    newcomer = county.doctor(east, "D3")
    plan = county.form()

    assert county.grid("JX0101-HTN01").doctor_id == newcomer.id
    # West has no doctor of its own any more: the township's other doctor covers it.
    assert county.grid("JX0102-HTN01").doctor_id == newcomer.id
    assert plan.report.doctors_released == 2
    assert plan.report.grids_assigned == 2
    assert county.form().is_empty


def test_a_clinic_that_gets_its_own_doctor_takes_its_grids_back_from_the_cover() -> None:
    county = County()
    east = county.clinic("JX0101", TOWNSHIP)
    west = county.clinic("JX0102", TOWNSHIP)
    cover = county.doctor(east, "D1")
    county.patients_of(west, 6)
    county.form()
    assert county.grid("JX0102-HTN01").doctor_id == cover.id

    own = county.doctor(west, "D2")
    county.form()

    assert county.grid("JX0102-HTN01").doctor_id == own.id


def test_a_second_volunteer_is_appointed_deputy_and_takes_over_when_the_coordinator_leaves() -> (
    None
):
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    coordinator = county.patient(clinic, volunteer=True, code="P1")
    deputy = county.patient(clinic, volunteer=True, code="P2")
    third = county.patient(clinic, volunteer=True, code="P3")
    county.patients_of(clinic, 10)

    plan = county.form()
    grid = county.grid("JX0101-HTN01")
    assert (grid.coordinator_id, grid.deputy_id) == (coordinator.id, deputy.id)
    assert plan.new_grids[0].deputy_id == deputy.id

    county.update_patient(coordinator, status="deceased")
    county.form()

    grid = county.grid("JX0101-HTN01")
    assert (grid.coordinator_id, grid.deputy_id) == (deputy.id, third.id)
    assert county.form().is_empty


def test_a_grid_with_one_volunteer_has_a_coordinator_and_no_deputy() -> None:
    county = County()
    clinic = county.clinic("JX0101", TOWNSHIP)
    county.patient(clinic, volunteer=True)
    county.patients_of(clinic, 9)

    plan = county.form()

    assert county.grid("JX0101-HTN01").deputy_id is None
    assert plan.report.needs_deputy == 1
