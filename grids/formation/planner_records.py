"""The records grid formation reads and writes: plain data, no database.

`form_grids` in `grids.formation.planner` turns a `FormationInput` into a `FormationPlan`;
`SMALL_GRID_BELOW` is the size docs/formation.md names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

SMALL_GRID_BELOW = 8
"""A grid under this size is small: only a clinic with fewer patients forms one."""


class LeaveReason(StrEnum):
    """Why a member leaves a grid (stored as the membership's `left_reason`)."""

    FACILITY_CHANGED = "facility_changed"
    CONDITION_CHANGED = "condition_changed"


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClinicIn:
    """A village clinic; `parent_id` is its township or community centre."""

    id: int
    code: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class DoctorIn:
    """A village doctor; `external_load` counts the grids he has outside the input."""

    id: int
    code: str
    clinic_id: int
    active: bool = True
    external_load: int = 0


class PatientIn(NamedTuple):
    """A patient as formation sees him (a tuple: a million are loaded at once)."""

    id: int
    code: str
    clinic_id: int
    condition: str
    status: str = "active"
    volunteer: bool = False
    has_phone: bool = True
    conditions: tuple[str, ...] = ()
    """Every listed condition, primary first; empty when only the primary is listed."""

    @property
    def can_coordinate(self) -> bool:
        return bool(self.volunteer and self.has_phone)

    @property
    def listed(self) -> tuple[str, ...]:
        return self.conditions or (self.condition,)

    def has_condition(self, condition: str) -> bool:
        return condition == self.condition or condition in self.conditions


class MemberIn(NamedTuple):
    """A current membership (not yet left)."""

    membership_id: int
    patient_id: int
    seat: int


@dataclass(slots=True)
class GridIn:
    id: int
    code: str
    clinic_id: int
    condition: str
    doctor_id: int | None
    coordinator_id: int | None
    members: list[MemberIn] = field(default_factory=list)
    version: int = 1
    deputy_id: int | None = None


@dataclass(frozen=True, slots=True)
class FormationInput:
    """Everything formation looks at.

    `scope` is the set of clinic ids to form (None: every clinic given). Clinics,
    doctors and grids outside the scope may be given too: sibling clinics' doctors
    cover clinics without one, and a patient who moved into the scope leaves the grid
    of his old clinic.
    """

    clinics: Sequence[ClinicIn]
    doctors: Sequence[DoctorIn]
    patients: Sequence[PatientIn]
    grids: Sequence[GridIn] = ()
    scope: frozenset[int] | None = None
    closed: Sequence[GridIn] = ()
    """Grids closed by a merge: nobody joins them, but their codes stay taken."""


# --- outputs ------------------------------------------------------------------------------


@dataclass(slots=True)
class NewGrid:
    code: str
    clinic_id: int
    condition: str
    coordinator_id: int | None
    members: list[tuple[int, int]]
    """(patient_id, seat), seats from 1."""
    doctor_id: int | None = None
    deputy_id: int | None = None


@dataclass(frozen=True, slots=True)
class Join:
    """A patient takes a free seat in an existing grid."""

    grid_id: int
    patient_id: int
    seat: int


@dataclass(frozen=True, slots=True)
class Leave:
    membership_id: int
    grid_id: int
    patient_id: int
    reason: str
    """A `LeaveReason`, or the patient's status when it is no longer placeable."""


@dataclass(frozen=True, slots=True)
class GridChange:
    """The new doctor, coordinator and deputy of an existing grid (`version` as read)."""

    grid_id: int
    code: str
    version: int
    doctor_id: int | None
    coordinator_id: int | None
    deputy_id: int | None = None
    doctor_changed: bool = False
    """The grid goes to another doctor (or none): it takes a new number for him."""


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A clinic whose grids the doctors allowed to take them cannot all take."""

    clinic_code: str
    unassigned: int
    doctors_available: int


@dataclass(frozen=True, slots=True)
class FormationFigures:
    """How well the grids in scope keep the model's arithmetic, after the plan.

    `min_grids` is the sum over clinics of ceil(placeable patients / 20);
    `same_condition_share` is members whose grid's condition is one of theirs over
    members of grids that are not mixed (1.0 when there are none).
    """

    grids: int = 0
    members: int = 0
    mean_size: float = 0.0
    min_grids: int = 0
    mixed_grids: int = 0
    small_grids: int = 0
    same_condition_share: float = 1.0

    def as_dict(self) -> dict[str, int | float]:
        return {
            "grids": self.grids,
            "members": self.members,
            "mean_size": self.mean_size,
            "min_grids": self.min_grids,
            "mixed_grids": self.mixed_grids,
            "small_grids": self.small_grids,
            "same_condition_share": self.same_condition_share,
        }


@dataclass(slots=True)
class FormationReport:
    grids_created: int = 0
    grids_created_by_condition: dict[str, int] = field(default_factory=dict)
    placed_in_new: int = 0
    placed_in_existing: int = 0
    left: int = 0
    left_by_reason: dict[str, int] = field(default_factory=dict)
    needs_coordinator: list[str] = field(default_factory=list)
    small_grids: list[str] = field(default_factory=list)
    doctors: int = 0
    doctor_load_min: int = 0
    doctor_load_max: int = 0
    shortfalls: list[Shortfall] = field(default_factory=list)
    grids_assigned: int = 0
    coordinators_appointed: int = 0
    coordinators_released: int = 0
    """Coordinators who no longer volunteer or have no phone, though still members."""
    deputies_appointed: int = 0
    needs_deputy: int = 0
    """Grids with a coordinator but no deputy (no second volunteer with a phone)."""
    doctors_released: int = 0
    """Grids taken from a doctor no longer active, or now at a clinic that may not hold them."""
    figures: FormationFigures = field(default_factory=lambda: FormationFigures())

    @property
    def placed(self) -> int:
        return self.placed_in_new + self.placed_in_existing

    @property
    def unassigned(self) -> int:
        return sum(shortfall.unassigned for shortfall in self.shortfalls)

    def counts(self) -> dict[str, int]:
        """The figures an audit entry keeps."""
        return {
            "grids_created": self.grids_created,
            "placed_in_new": self.placed_in_new,
            "placed_in_existing": self.placed_in_existing,
            "left": self.left,
            "grids_assigned": self.grids_assigned,
            "coordinators_appointed": self.coordinators_appointed,
            "coordinators_released": self.coordinators_released,
            "deputies_appointed": self.deputies_appointed,
            "doctors_released": self.doctors_released,
            "needs_coordinator": len(self.needs_coordinator),
            "small_grids": len(self.small_grids),
            "unassigned": self.unassigned,
        }


@dataclass(slots=True)
class FormationPlan:
    new_grids: list[NewGrid]
    joins: list[Join]
    leaves: list[Leave]
    grid_changes: list[GridChange]
    report: FormationReport

    @property
    def is_empty(self) -> bool:
        return not (self.new_grids or self.joins or self.leaves or self.grid_changes)
