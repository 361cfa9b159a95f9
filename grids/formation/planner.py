"""Grid formation: a pure function from the roster and the current grids to a plan.

The rules (grid size, mixed grids, seats, coordinators, doctors, stability) are in
docs/formation.md; `GRID_CAPACITY`, `SMALL_GRID_BELOW` and `DOCTOR_GRID_CAPACITY` hold
the numbers. How a clinic's waiting patients make new grids is `grids.formation.partition`.

Nothing here touches a database: plain records in, a `FormationPlan` out.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from operator import attrgetter

from grids.core.collector import collector_paused
from grids.core.limits import DOCTOR_GRID_CAPACITY, GRID_CAPACITY
from grids.core.vocabulary import MIXED, PLACEABLE_STATUSES, condition_abbreviation
from grids.formation.partition import partition
from grids.formation.planner_records import (
    SMALL_GRID_BELOW,
    ClinicIn,
    DoctorIn,
    FormationFigures,
    FormationInput,
    FormationPlan,
    FormationReport,
    GridChange,
    GridIn,
    Join,
    Leave,
    LeaveReason,
    NewGrid,
    PatientIn,
    Shortfall,
)

_PLACEABLE = frozenset(str(status) for status in PLACEABLE_STATUSES)


# --- the working state of one grid --------------------------------------------------------


class _Grid:
    """A grid being filled: its seats, members and who leads and serves it."""

    __slots__ = (
        "clinic_id",
        "code",
        "condition",
        "coordinator_id",
        "deputy_id",
        "doctor_id",
        "free_seats",
        "member_ids",
        "original",
    )

    def __init__(
        self,
        code: str,
        clinic_id: int,
        condition: str,
        doctor_id: int | None,
        coordinator_id: int | None,
        member_ids: list[int],
        taken_seats: Iterable[int],
        original: GridIn | None,
    ) -> None:
        self.code = code
        self.clinic_id = clinic_id
        self.condition = condition
        self.doctor_id = doctor_id
        self.coordinator_id = coordinator_id
        self.member_ids = member_ids
        taken = set(taken_seats)
        self.free_seats = [seat for seat in range(GRID_CAPACITY, 0, -1) if seat not in taken]
        self.original = original
        self.deputy_id: int | None = original.deputy_id if original is not None else None

    def take_lowest_seat(self) -> int:
        return self.free_seats.pop()


# --- the function -------------------------------------------------------------------------


def form_grids(data: FormationInput) -> FormationPlan:
    """Plan the grids for `data`; see the module docstring for the rules."""
    with collector_paused():
        return _form(data)


def _form(data: FormationInput) -> FormationPlan:
    clinics = {clinic.id: clinic for clinic in data.clinics}
    patients = {patient.id: patient for patient in data.patients}
    scope = set(clinics) if data.scope is None else set(data.scope) & set(clinics)
    report = FormationReport()

    leaves, states, placed = _apply_departures(data.grids, patients, report)
    by_group: dict[tuple[int, str], list[_Grid]] = {}
    numbers: dict[tuple[int, str], int] = {}
    for state in states:
        if state.clinic_id in scope:
            by_group.setdefault((state.clinic_id, state.condition), []).append(state)
    for grid in (*data.grids, *data.closed):
        clinic = clinics.get(grid.clinic_id)
        if clinic is not None:
            key = (grid.clinic_id, grid.condition)
            numbers[key] = max(numbers.get(key, 0), _grid_number(grid.code, clinic.code, grid))

    waiting: dict[int, list[PatientIn]] = {}
    for patient in sorted(data.patients, key=attrgetter("code")):
        if (
            patient.id in placed
            or patient.status not in _PLACEABLE
            or patient.clinic_id not in scope
        ):
            continue
        waiting.setdefault(patient.clinic_id, []).append(patient)

    joins: list[Join] = []
    created: list[_Grid] = []
    for clinic_id in sorted(waiting, key=lambda cid: clinics[cid].code):
        remainder = _fill_clinic(clinic_id, waiting[clinic_id], by_group, joins, report)
        if remainder:
            created.extend(_new_grids(clinics[clinic_id], remainder, numbers, report))

    in_scope = [state for state in states if state.clinic_id in scope]
    for state in in_scope:
        if state.coordinator_id is None:
            _appoint_coordinator(state, patients, report)
    for state in [*in_scope, *created]:
        _appoint_deputy(state, patients, report)

    _assign_doctors(data, clinics, scope, [*in_scope, *created], states, report)
    report.figures = formation_figures([*in_scope, *created], patients, data.patients, scope)
    return _plan(states, created, joins, leaves, report, scope)


def _fill_clinic(
    clinic_id: int,
    waiting: list[PatientIn],
    by_group: dict[tuple[int, str], list[_Grid]],
    joins: list[Join],
    report: FormationReport,
) -> list[PatientIn]:
    """Seat a clinic's waiting patients in its grids with free seats: a grid of their
    primary condition, then of another listed one, then a mixed grid. Return the rest."""
    by_condition: dict[str, list[PatientIn]] = {}
    for patient in waiting:
        by_condition.setdefault(patient.condition, []).append(patient)
    rest: list[PatientIn] = []
    for condition in sorted(by_condition):
        rest += _fill(
            by_group.get((clinic_id, condition), ()), by_condition[condition], joins, report
        )
    unplaced: list[PatientIn] = []
    for patient in sorted(rest, key=attrgetter("code")):
        for condition in patient.conditions:
            if condition != patient.condition and not _fill(
                by_group.get((clinic_id, condition), ()), [patient], joins, report
            ):
                break
        else:
            unplaced.append(patient)
    return _fill(by_group.get((clinic_id, MIXED), ()), unplaced, joins, report)


def formation_figures(
    grids: Sequence[_Grid],
    by_id: dict[int, PatientIn],
    patients: Iterable[PatientIn],
    scope: set[int],
) -> FormationFigures:
    """The figures of `FormationFigures` for the grids in scope."""
    placeable: dict[int, int] = {}
    for patient in patients:
        if patient.clinic_id in scope and patient.status in _PLACEABLE:
            placeable[patient.clinic_id] = placeable.get(patient.clinic_id, 0) + 1
    sizes = [len(grid.member_ids) for grid in grids if grid.member_ids]
    in_condition_grids = 0
    matching = 0
    for grid in grids:
        if grid.condition == MIXED:
            continue
        for patient_id in grid.member_ids:
            in_condition_grids += 1
            member = by_id.get(patient_id)
            if member is not None and member.has_condition(grid.condition):
                matching += 1
    return FormationFigures(
        grids=len(sizes),
        members=sum(sizes),
        mean_size=round(sum(sizes) / len(sizes), 2) if sizes else 0.0,
        min_grids=sum(math.ceil(count / GRID_CAPACITY) for count in placeable.values()),
        mixed_grids=sum(1 for grid in grids if grid.member_ids and grid.condition == MIXED),
        small_grids=sum(1 for size in sizes if size < SMALL_GRID_BELOW),
        same_condition_share=round(matching / in_condition_grids, 4) if in_condition_grids else 1.0,
    )


def _grid_number(code: str, clinic_code: str, grid: GridIn) -> int:
    abbreviation = _abbreviation(grid.condition)
    prefix = f"{clinic_code}-{abbreviation}"
    number = code[len(prefix) :]
    if code.startswith(prefix) and number.isascii() and number.isdigit():
        return int(number)
    return 0


def _abbreviation(condition: str) -> str:
    try:
        return condition_abbreviation(condition)
    except KeyError:
        return condition.upper()[:4]


def _apply_departures(
    grids: Sequence[GridIn], patients: dict[int, PatientIn], report: FormationReport
) -> tuple[list[Leave], list[_Grid], set[int]]:
    """Members no longer placeable, now at another clinic or no longer listing the grid's
    condition (outside mixed grids) leave; the rest stay put. A coordinator who no longer qualifies
    steps down."""
    leaves: list[Leave] = []
    states: list[_Grid] = []
    placed: set[int] = set()
    for grid in grids:
        kept: list[int] = []
        seats: list[int] = []
        coordinator_id = grid.coordinator_id
        for member in grid.members:
            patient = patients.get(member.patient_id)
            reason = None
            if patient is not None:
                if patient.status not in _PLACEABLE:
                    reason = patient.status
                elif patient.clinic_id != grid.clinic_id:
                    reason = LeaveReason.FACILITY_CHANGED
                elif grid.condition != MIXED and not patient.has_condition(grid.condition):
                    reason = LeaveReason.CONDITION_CHANGED
            if reason is None:
                kept.append(member.patient_id)
                seats.append(member.seat)
                placed.add(member.patient_id)
                continue
            leaves.append(Leave(member.membership_id, grid.id, member.patient_id, reason))
            report.left_by_reason[reason] = report.left_by_reason.get(reason, 0) + 1
            if member.patient_id == coordinator_id:
                coordinator_id = None
        coordinator = patients.get(coordinator_id) if coordinator_id is not None else None
        if coordinator is not None and not coordinator.can_coordinate:
            coordinator_id = None
            report.coordinators_released += 1
        states.append(
            _Grid(
                grid.code,
                grid.clinic_id,
                grid.condition,
                grid.doctor_id,
                coordinator_id,
                kept,
                seats,
                grid,
            )
        )
    report.left = len(leaves)
    return leaves, states, placed


def _fill(
    grids: Iterable[_Grid], group: list[PatientIn], joins: list[Join], report: FormationReport
) -> list[PatientIn]:
    """Seat `group` (in code order) in existing grids with free seats; return who is left.

    A volunteer with a phone goes first to a grid that needs a coordinator; everyone
    else to the grid with the most free seats, so sizes stay balanced.
    """
    open_grids = [grid for grid in grids if grid.free_seats]
    if not open_grids:
        return group
    remaining = group
    leaderless = sorted(
        (grid for grid in open_grids if grid.coordinator_id is None),
        key=lambda grid: (-len(grid.free_seats), grid.code),
    )
    if leaderless:
        remaining = []
        for patient in group:
            if leaderless and patient.can_coordinate:
                grid = leaderless.pop(0)
                _join(grid, patient, joins)
                grid.coordinator_id = patient.id
                report.coordinators_appointed += 1
            else:
                remaining.append(patient)
    heap = [(-len(grid.free_seats), grid.code, grid) for grid in open_grids if grid.free_seats]
    heapq.heapify(heap)
    left_over: list[PatientIn] = []
    for index, patient in enumerate(remaining):
        if not heap:
            left_over = remaining[index:]
            break
        _, _, grid = heapq.heappop(heap)
        _join(grid, patient, joins)
        if grid.free_seats:
            heapq.heappush(heap, (-len(grid.free_seats), grid.code, grid))
    report.placed_in_existing += len(group) - len(left_over)
    return left_over


def _join(grid: _Grid, patient: PatientIn, joins: list[Join]) -> None:
    assert grid.original is not None
    joins.append(Join(grid.original.id, patient.id, grid.take_lowest_seat()))
    grid.member_ids.append(patient.id)


def _new_grids(
    clinic: ClinicIn,
    group: list[PatientIn],
    numbers: dict[tuple[int, str], int],
    report: FormationReport,
) -> list[_Grid]:
    """The clinic's new grids (see `grids.formation.partition`): the first volunteer with a
    phone leads on seat 1, the others sit in patient code order."""
    grids: list[_Grid] = []
    for planned in partition(group):
        condition = planned.condition
        key = (clinic.id, condition)
        numbers[key] = numbers.get(key, 0) + 1
        members = sorted(planned.members, key=attrgetter("code"))
        coordinator = next((patient for patient in members if patient.can_coordinate), None)
        if coordinator is not None:
            members.remove(coordinator)
            members.insert(0, coordinator)
        grids.append(
            _Grid(
                f"{clinic.code}-{_abbreviation(condition)}{numbers[key]:02d}",
                clinic.id,
                condition,
                None,
                coordinator.id if coordinator is not None else None,
                [patient.id for patient in members],
                range(1, len(members) + 1),
                None,
            )
        )
        report.grids_created_by_condition[condition] = (
            report.grids_created_by_condition.get(condition, 0) + 1
        )
    report.grids_created += len(grids)
    report.placed_in_new += len(group)
    return grids


def _appoint_deputy(state: _Grid, patients: dict[int, PatientIn], report: FormationReport) -> None:
    """A second volunteer member with a phone stands in for the coordinator; a deputy
    who left, no longer qualifies or now coordinates steps down first."""
    deputy = patients.get(state.deputy_id) if state.deputy_id is not None else None
    if state.deputy_id is not None and (
        deputy is None
        or not deputy.can_coordinate
        or state.deputy_id == state.coordinator_id
        or state.deputy_id not in state.member_ids
    ):
        state.deputy_id = None
    if state.deputy_id is not None or state.coordinator_id is None:
        return
    candidates = [
        patient
        for patient_id in state.member_ids
        if patient_id != state.coordinator_id
        and (patient := patients.get(patient_id)) is not None
        and patient.can_coordinate
    ]
    if candidates:
        state.deputy_id = min(candidates, key=attrgetter("code")).id
        report.deputies_appointed += 1
    else:
        report.needs_deputy += 1


def _appoint_coordinator(
    state: _Grid, patients: dict[int, PatientIn], report: FormationReport
) -> None:
    candidates = [
        patient
        for patient_id in state.member_ids
        if (patient := patients.get(patient_id)) is not None and patient.can_coordinate
    ]
    if not candidates:
        return
    # The deputy, who already stood in, takes over; else the first volunteer by code.
    deputy = next((p for p in candidates if p.id == state.deputy_id), None)
    chosen = deputy or min(candidates, key=attrgetter("code"))
    state.coordinator_id = chosen.id
    if deputy is not None:
        state.deputy_id = None
    report.coordinators_appointed += 1


def _assign_doctors(
    data: FormationInput,
    clinics: dict[int, ClinicIn],
    scope: set[int],
    candidates: list[_Grid],
    states: list[_Grid],
    report: FormationReport,
) -> None:
    """Give unassigned grids in scope to doctors: own clinic first, then the centre's others."""
    active = [doctor for doctor in data.doctors if doctor.active and doctor.clinic_id in clinics]
    by_clinic: dict[int, list[DoctorIn]] = {}
    by_parent: dict[int | None, list[DoctorIn]] = {}
    for doctor in active:
        by_clinic.setdefault(doctor.clinic_id, []).append(doctor)
        by_parent.setdefault(clinics[doctor.clinic_id].parent_id, []).append(doctor)

    # A grid keeps its doctor only while formation could still choose him for it.
    clinic_of = {doctor.id: doctor.clinic_id for doctor in active}
    for state in candidates:
        if state.doctor_id is None:
            continue
        doctor_clinic = clinic_of.get(state.doctor_id)
        if doctor_clinic == state.clinic_id or (
            doctor_clinic is not None
            and state.clinic_id not in by_clinic
            and clinics[doctor_clinic].parent_id == clinics[state.clinic_id].parent_id
        ):
            continue
        state.doctor_id = None
        report.doctors_released += 1

    loads = {doctor.id: doctor.external_load for doctor in active}
    for state in states:
        if state.doctor_id in loads:
            loads[state.doctor_id] += 1

    waiting: dict[int, list[_Grid]] = {}
    for state in sorted(candidates, key=attrgetter("code")):
        if state.doctor_id is None:
            waiting.setdefault(state.clinic_id, []).append(state)

    def assign(queue: list[_Grid], doctors: list[DoctorIn]) -> list[_Grid]:
        heap = [
            (loads[doctor.id], doctor.code, doctor.id)
            for doctor in doctors
            if loads[doctor.id] < DOCTOR_GRID_CAPACITY
        ]
        heapq.heapify(heap)
        for index, grid in enumerate(queue):
            if not heap:
                return queue[index:]
            load, code, doctor_id = heapq.heappop(heap)
            grid.doctor_id = doctor_id
            loads[doctor_id] = load + 1
            report.grids_assigned += 1
            if load + 1 < DOCTOR_GRID_CAPACITY:
                heapq.heappush(heap, (load + 1, code, doctor_id))
        return []

    unassigned: dict[int, int] = {}
    available: dict[int, int] = {}
    covered_by_parent: dict[int | None, list[int]] = {}
    for clinic_id in sorted(waiting, key=lambda cid: clinics[cid].code):
        own = by_clinic.get(clinic_id)
        if own:
            left = assign(waiting[clinic_id], own)
            available[clinic_id] = len(own)
            if left:
                unassigned[clinic_id] = len(left)
        else:
            covered_by_parent.setdefault(clinics[clinic_id].parent_id, []).append(clinic_id)

    for parent_id, clinic_ids in covered_by_parent.items():
        siblings = by_parent.get(parent_id, [])
        # Take the clinics' grids in turn, so a shortage falls on every village alike.
        queues = [waiting[clinic_id] for clinic_id in clinic_ids]
        interleaved = [
            queue[round_]
            for round_ in range(max(len(queue) for queue in queues))
            for queue in queues
            if round_ < len(queue)
        ]
        left = assign(interleaved, siblings)
        for clinic_id in clinic_ids:
            available[clinic_id] = len(siblings)
        for grid in left:
            unassigned[grid.clinic_id] = unassigned.get(grid.clinic_id, 0) + 1

    report.shortfalls = [
        Shortfall(clinics[clinic_id].code, count, available.get(clinic_id, 0))
        for clinic_id, count in sorted(unassigned.items(), key=lambda item: clinics[item[0]].code)
    ]
    relevant_parents = {clinics[clinic_id].parent_id for clinic_id in scope}
    relevant = [
        loads[doctor.id]
        for doctor in active
        if clinics[doctor.clinic_id].parent_id in relevant_parents
    ]
    report.doctors = len(relevant)
    report.doctor_load_min = min(relevant, default=0)
    report.doctor_load_max = max(relevant, default=0)


def _plan(
    states: list[_Grid],
    created: list[_Grid],
    joins: list[Join],
    leaves: list[Leave],
    report: FormationReport,
    scope: set[int],
) -> FormationPlan:
    changes: list[GridChange] = []
    for state in states:
        original = state.original
        assert original is not None
        if (state.doctor_id, state.coordinator_id, state.deputy_id) != (
            original.doctor_id,
            original.coordinator_id,
            original.deputy_id,
        ):
            changes.append(
                GridChange(
                    original.id,
                    original.code,
                    original.version,
                    state.doctor_id,
                    state.coordinator_id,
                    state.deputy_id,
                    state.doctor_id != original.doctor_id,
                )
            )
    new_grids = [
        NewGrid(
            code=state.code,
            clinic_id=state.clinic_id,
            condition=state.condition,
            coordinator_id=state.coordinator_id,
            members=list(zip(state.member_ids, range(1, len(state.member_ids) + 1), strict=True)),
            doctor_id=state.doctor_id,
            deputy_id=state.deputy_id,
        )
        for state in created
    ]
    formed = [state for state in states if state.clinic_id in scope] + created
    report.needs_coordinator = sorted(
        state.code for state in formed if state.coordinator_id is None and state.member_ids
    )
    report.small_grids = sorted(
        state.code for state in formed if 0 < len(state.member_ids) < SMALL_GRID_BELOW
    )
    return FormationPlan(new_grids, joins, leaves, changes, report)
