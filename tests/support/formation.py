"""A tiny in-memory county for formation tests: build inputs, apply plans like the database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from grids.formation.planner import form_grids
from grids.formation.planner_records import (
    ClinicIn,
    DoctorIn,
    FormationInput,
    FormationPlan,
    GridIn,
    MemberIn,
    PatientIn,
)


@dataclass
class County:
    """Clinics, doctors, patients and grids, changed in place by `apply`."""

    clinics: dict[int, ClinicIn] = field(default_factory=dict)
    doctors: dict[int, DoctorIn] = field(default_factory=dict)
    patients: dict[int, PatientIn] = field(default_factory=dict)
    grids: dict[int, GridIn] = field(default_factory=dict)
    history: list[tuple[int, int, int]] = field(default_factory=list)
    """(grid_id, patient_id, seat) of every membership that ever existed."""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        return next(self._ids)

    def clinic(self, code: str, parent_id: int | None = 1) -> ClinicIn:
        clinic = ClinicIn(self.next_id(), code, parent_id)
        self.clinics[clinic.id] = clinic
        return clinic

    def doctor(self, clinic: ClinicIn, code: str | None = None, **fields: object) -> DoctorIn:
        doctor_id = self.next_id()
        doctor = DoctorIn(doctor_id, code or f"D{doctor_id:04d}", clinic.id, **fields)  # type: ignore[arg-type]
        self.doctors[doctor.id] = doctor
        return doctor

    def patient(
        self, clinic: ClinicIn, condition: str = "hypertension", **fields: object
    ) -> PatientIn:
        patient_id = self.next_id()
        patient = PatientIn(
            patient_id,
            str(fields.pop("code", f"P{patient_id:06d}")),
            clinic.id,
            condition,
            **fields,  # type: ignore[arg-type]
        )
        self.patients[patient.id] = patient
        return patient

    def patients_of(
        self, clinic: ClinicIn, count: int, condition: str = "hypertension", **fields: object
    ) -> list[PatientIn]:
        return [self.patient(clinic, condition, **fields) for _ in range(count)]

    def update_patient(self, patient: PatientIn, **fields: object) -> PatientIn:
        updated = patient._replace(**fields)  # type: ignore[arg-type]
        self.patients[patient.id] = updated
        return updated

    def input(self, scope: set[int] | None = None) -> FormationInput:
        return FormationInput(
            clinics=list(self.clinics.values()),
            doctors=list(self.doctors.values()),
            patients=list(self.patients.values()),
            grids=[replace(grid, members=list(grid.members)) for grid in self.grids.values()],
            scope=frozenset(scope) if scope is not None else None,
        )

    def form(self, scope: set[int] | None = None) -> FormationPlan:
        plan = form_grids(self.input(scope))
        self.apply(plan)
        return plan

    def apply(self, plan: FormationPlan) -> None:
        """What `formation_service` writes, done to the in-memory grids."""
        left = {leave.membership_id for leave in plan.leaves}
        for grid in self.grids.values():
            grid.members = [member for member in grid.members if member.membership_id not in left]
        for change in plan.grid_changes:
            grid = self.grids[change.grid_id]
            assert grid.version == change.version
            grid.doctor_id = change.doctor_id
            grid.coordinator_id = change.coordinator_id
            grid.deputy_id = change.deputy_id
            grid.version += 1
        for join in plan.joins:
            self.grids[join.grid_id].members.append(
                MemberIn(self.next_id(), join.patient_id, join.seat)
            )
            self.history.append((join.grid_id, join.patient_id, join.seat))
        for new in plan.new_grids:
            grid = GridIn(
                self.next_id(),
                new.code,
                new.clinic_id,
                new.condition,
                new.doctor_id,
                new.coordinator_id,
                [MemberIn(self.next_id(), patient_id, seat) for patient_id, seat in new.members],
                deputy_id=new.deputy_id,
            )
            self.grids[grid.id] = grid
            self.history.extend((grid.id, patient_id, seat) for patient_id, seat in new.members)

    def grid(self, code: str) -> GridIn:
        return next(grid for grid in self.grids.values() if grid.code == code)

    def placement(self) -> dict[int, tuple[int, int]]:
        """patient_id -> (grid_id, seat) of every current membership."""
        return {
            member.patient_id: (grid.id, member.seat)
            for grid in self.grids.values()
            for member in grid.members
        }

    def sizes(self, prefix: str = "") -> dict[str, int]:
        return {
            grid.code: len(grid.members)
            for grid in sorted(self.grids.values(), key=lambda grid: grid.code)
            if grid.code.startswith(prefix)
        }
