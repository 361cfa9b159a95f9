"""Formation invariants over random rosters, over two rounds (the second after changes)."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grids.core.limits import DOCTOR_GRID_CAPACITY, GRID_CAPACITY
from grids.core.vocabulary import MIXED, PLACEABLE_STATUSES
from grids.formation.planner_records import SMALL_GRID_BELOW, FormationPlan
from tests.support.formation import County

CONDITIONS = ("hypertension",) * 5 + ("diabetes", "diabetes", "stroke", "copd")
STATUSES = ("active",) * 6 + ("hospitalised", "deceased", "moved_away", "inactive")
PLACEABLE = {str(status) for status in PLACEABLE_STATUSES}

patient_strategy = st.tuples(
    st.sampled_from(CONDITIONS),
    st.sampled_from(STATUSES),
    st.booleans(),  # volunteer, when the phone draw is 0 (no phone) or 1
    st.integers(0, 3),  # 0: no phone
    st.sampled_from((None,) * 4 + CONDITIONS),  # a second listed condition
)
clinic_strategy = st.tuples(
    st.integers(0, 2),  # township
    st.lists(st.tuples(st.booleans(), st.integers(0, 15)), max_size=2),  # active, other grids
    st.lists(patient_strategy, max_size=90),
    st.lists(patient_strategy, max_size=30),  # second round arrivals
)


def _add(county: County, clinic: Any, specs: Any) -> None:
    for condition, status, volunteer, phone, second in specs:
        listed = (condition, second) if second not in (None, condition) else ()
        county.patient(
            clinic,
            condition,
            status=status,
            volunteer=volunteer and phone < 2,
            has_phone=phone != 0,
            conditions=listed,
        )


def check_invariants(county: County, plan: FormationPlan) -> None:
    patients = county.patients
    placement = Counter(
        member.patient_id for grid in county.grids.values() for member in grid.members
    )
    assert all(count == 1 for count in placement.values()), "a patient placed twice"
    eligible = {p.id for p in patients.values() if p.status in PLACEABLE}
    assert set(placement) == eligible, "eligible not placed, or ineligible placed"

    doctors_of_clinic: dict[int, set[int]] = {}
    for doctor in county.doctors.values():
        if doctor.active:
            doctors_of_clinic.setdefault(doctor.clinic_id, set()).add(doctor.id)
    loads: Counter[int] = Counter(
        {doctor.id: doctor.external_load for doctor in county.doctors.values()}
    )
    for grid in county.grids.values():
        members = [patients[member.patient_id] for member in grid.members]
        seats = [member.seat for member in grid.members]
        assert len(members) <= GRID_CAPACITY
        assert len(set(seats)) == len(seats) and all(1 <= s <= GRID_CAPACITY for s in seats)
        assert all(member.clinic_id == grid.clinic_id for member in members)
        if grid.condition != MIXED:
            assert all(member.has_condition(grid.condition) for member in members)
        if grid.coordinator_id is not None:
            coordinator = patients[grid.coordinator_id]
            assert coordinator.volunteer and coordinator.has_phone
            assert coordinator.id in {member.id for member in members}
        elif members:
            assert not any(member.can_coordinate for member in members)
            assert grid.code in plan.report.needs_coordinator
        leaders = [member for member in members if member.can_coordinate]
        if grid.deputy_id is not None:
            deputy = patients[grid.deputy_id]
            assert deputy.can_coordinate and deputy.id != grid.coordinator_id
            assert deputy.id in {member.id for member in members}
        elif grid.coordinator_id is not None:
            assert len(leaders) < 2, "a second volunteer but no deputy"
        if grid.doctor_id is not None:
            loads[grid.doctor_id] += 1
            doctor = county.doctors[grid.doctor_id]
            own = doctors_of_clinic.get(grid.clinic_id)
            if own:
                assert doctor.clinic_id == grid.clinic_id
            else:
                parent = county.clinics[grid.clinic_id].parent_id
                assert county.clinics[doctor.clinic_id].parent_id == parent
    assert all(load <= DOCTOR_GRID_CAPACITY for load in loads.values())
    assert all(
        county.doctors[grid.doctor_id].active
        for grid in county.grids.values()
        if grid.doctor_id is not None
    )

    new_by_clinic: dict[int, list[int]] = {}
    for new_grid in plan.new_grids:
        new_by_clinic.setdefault(new_grid.clinic_id, []).append(len(new_grid.members))
    for sizes in new_by_clinic.values():
        assert max(sizes) - min(sizes) <= 1, f"unbalanced new grids {sizes}"
        assert len(sizes) == math.ceil(sum(sizes) / GRID_CAPACITY), "more grids than needed"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    clinics=st.lists(clinic_strategy, min_size=1, max_size=6),
    leaving=st.sets(st.integers(0, 300), max_size=30),
    moving=st.sets(st.integers(0, 300), max_size=8),
    changing=st.sets(st.integers(0, 300), max_size=20),
    doctor_changes=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 6)), max_size=4),
)
def test_formation_keeps_every_invariant_over_two_rounds(
    clinics, leaving, moving, changing, doctor_changes
) -> None:
    """Between the rounds patients die, move, change condition, stop volunteering or
    lose their phone; doctors retire (target 0) or move to another clinic."""
    county = County()
    created = []
    for index, (township, doctors, first_round, _) in enumerate(clinics):
        clinic = county.clinic(f"C{index:02d}", 9000 + township)
        created.append(clinic)
        for number, (active, elsewhere) in enumerate(doctors):
            county.doctor(clinic, f"D{index:02d}{number}", active=active, external_load=elsewhere)
        _add(county, clinic, first_round)

    plan = county.form()
    check_invariants(county, plan)
    before = county.placement()

    ids = sorted(county.patients)
    for position in leaving:
        if position < len(ids):
            patient = county.patients[ids[position]]
            county.update_patient(patient, status="deceased")
    for position in moving:
        if position < len(ids):
            patient = county.patients[ids[position]]
            target = created[position % len(created)]
            county.update_patient(patient, clinic_id=target.id)
    for position in changing:
        if position < len(ids):
            patient = county.patients[ids[position]]
            change = position % 3
            if change == 0:
                condition = CONDITIONS[(CONDITIONS.index(patient.condition) + 5) % len(CONDITIONS)]
                county.update_patient(patient, condition=condition)
            elif change == 1:
                county.update_patient(patient, volunteer=False)
            else:
                county.update_patient(patient, has_phone=False)
    doctor_ids = sorted(county.doctors)
    for position, target in doctor_changes:
        if position < len(doctor_ids):
            doctor = county.doctors[doctor_ids[position]]
            if target == 0:
                county.doctors[doctor.id] = replace(doctor, active=False)
            else:
                clinic = created[target % len(created)]
                county.doctors[doctor.id] = replace(doctor, clinic_id=clinic.id)
    for clinic, (_, _, _, arrivals) in zip(created, clinics, strict=True):
        _add(county, clinic, arrivals)

    second = county.form()
    check_invariants(county, second)
    after = county.placement()
    for patient_id, place in before.items():
        patient = county.patients[patient_id]
        grid = county.grids[place[0]]
        same_condition = grid.condition in (MIXED, patient.condition)
        if patient.status in PLACEABLE and patient.clinic_id == grid.clinic_id and same_condition:
            assert after[patient_id] == place, "a placed patient moved"

    third = county.form()
    assert third.is_empty, "a re-run without changes changed something"


clinic_size = st.one_of(st.integers(1, 12), st.integers(13, 80), st.integers(81, 320))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(clinic_size, min_size=1, max_size=8),
    seed=st.integers(0, 2**16),
)
def test_a_first_formation_meets_the_targets(sizes: list[int], seed: int) -> None:
    """Grids at most 1.15 x min_grids, and no grid under 8 unless its clinic has fewer
    than 8 placeable patients who could join it."""
    rng = random.Random(seed)
    county = County()
    for index, size in enumerate(sizes):
        clinic = county.clinic(f"C{index:02d}", 9000 + index % 3)
        county.doctor(clinic)
        for _ in range(size):
            condition = rng.choice(CONDITIONS)
            second = rng.choice(CONDITIONS) if rng.random() < 0.22 else condition
            county.patient(
                clinic,
                condition,
                status=rng.choice(STATUSES),
                volunteer=rng.random() < 0.3,
                conditions=(condition, second) if second != condition else (),
            )

    plan = county.form()
    check_invariants(county, plan)
    figures = plan.report.figures
    assert figures.grids <= 1.15 * figures.min_grids
    for grid in county.grids.values():
        if 0 < len(grid.members) < SMALL_GRID_BELOW:
            could_join = [
                p
                for p in county.patients.values()
                if p.clinic_id == grid.clinic_id
                and p.status in PLACEABLE
                and (grid.condition == MIXED or p.has_condition(grid.condition))
            ]
            assert len(could_join) < SMALL_GRID_BELOW, f"small grid {grid.code}"
    members = [m for grid in county.grids.values() for m in grid.members]
    assert figures.members == len(members)
    assert county.form().is_empty
