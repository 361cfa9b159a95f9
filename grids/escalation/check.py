"""`grids check`: the whole county validated through the hierarchy graph. Pure.

Every problem found, each with a stable `code`, a `severity` (`error`, `warning` or
`notice`: a notice is listed but is no problem for the exit status),
its `subject` (a facility, doctor or grid code) and the numbers its message needs:

- `no_county_path`: a village clinic with no path up to a county hospital;
- `grid_without_doctor`; `grid_without_coordinator`: a grid with neither coordinator
  nor deputy (a grid closed by a merge has none and is passed by);
- `grid_without_deputy`: a grid with a coordinator but no deputy (notice);
- `doctor_over_capacity`: a doctor over `DOCTOR_GRID_CAPACITY` grids (warning);
- `grid_over_capacity`: a grid over `GRID_CAPACITY` members;
- `facility_without_phone`: a facility on a clinic's ladder (its township or community
  centre, its county hospital) with no duty phone;
- `facility_landline`: such a facility whose duty phone is a landline: it is called,
  it cannot get SMS (warning);
- `short_ladder`: a clinic whose ladder has fewer than two reachable steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grids.core.limits import DOCTOR_GRID_CAPACITY, GRID_CAPACITY
from grids.core.vocabulary import FacilityLevel
from grids.escalation.hierarchy import FacilityInfo, Hierarchy
from grids.escalation.ladder import (
    COUNTY_LEVEL,
    DEFAULT_TIMEOUTS,
    DUTY_LEVELS,
    VOICE,
    build_ladder,
    channel_for,
)

ERROR = "error"
WARNING = "warning"
NOTICE = "notice"
MIN_LADDER_STEPS = 2


@dataclass(frozen=True)
class Problem:
    code: str
    severity: str
    subject: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _ladder_facilities(hierarchy: Hierarchy, clinic: FacilityInfo) -> list[FacilityInfo]:
    """The facilities above a clinic that its ladder uses: the nearest township or
    community centre, and the county hospital."""
    above = hierarchy.facilities_above(clinic.id)
    used: list[FacilityInfo] = []
    township = next((facility for facility in above if facility.level in DUTY_LEVELS), None)
    county = next((facility for facility in above if facility.level == COUNTY_LEVEL), None)
    for facility in (township, county):
        if facility is not None:
            used.append(facility)
    return used


def check_hierarchy(
    hierarchy: Hierarchy, *, timeouts: Mapping[str, int] = DEFAULT_TIMEOUTS
) -> list[Problem]:
    problems: list[Problem] = []
    seen_facilities: set[int] = set()
    clinics = sorted(
        (f for f in hierarchy.facilities() if f.level == FacilityLevel.VILLAGE_CLINIC.value),
        key=lambda facility: facility.code,
    )
    for clinic in clinics:
        above = hierarchy.facilities_above(clinic.id)
        if not any(facility.level == COUNTY_LEVEL for facility in above):
            problems.append(Problem("no_county_path", ERROR, clinic.code))
        for facility in _ladder_facilities(hierarchy, clinic):
            if facility.id in seen_facilities:
                continue
            seen_facilities.add(facility.id)
            channel = channel_for(facility.phone)
            if channel is None:
                problems.append(Problem("facility_without_phone", ERROR, facility.code))
            elif channel == VOICE:
                problems.append(Problem("facility_landline", WARNING, facility.code))
        ladder = build_ladder(hierarchy, facility_id=clinic.id, timeouts=timeouts)
        if len(ladder.steps) < MIN_LADDER_STEPS:
            problems.append(
                Problem("short_ladder", ERROR, clinic.code, {"count": len(ladder.steps)})
            )
    for grid in sorted(hierarchy.grids(), key=lambda grid: grid.code):
        if grid.closed:
            continue
        if grid.doctor_id is None:
            problems.append(Problem("grid_without_doctor", ERROR, grid.code))
        if grid.coordinator_id is None and grid.deputy_id is None:
            problems.append(Problem("grid_without_coordinator", ERROR, grid.code))
        elif grid.deputy_id is None:
            problems.append(Problem("grid_without_deputy", NOTICE, grid.code))
        members = hierarchy.member_count(grid.id)
        if members > GRID_CAPACITY:
            problems.append(
                Problem(
                    "grid_over_capacity",
                    ERROR,
                    grid.code,
                    {"count": members, "limit": GRID_CAPACITY},
                )
            )
    for doctor in sorted(hierarchy.doctors(), key=lambda doctor: doctor.code):
        grids = len(hierarchy.grids_of(doctor.id))
        if grids > DOCTOR_GRID_CAPACITY:
            problems.append(
                Problem(
                    "doctor_over_capacity",
                    WARNING,
                    doctor.code,
                    {"count": grids, "limit": DOCTOR_GRID_CAPACITY},
                )
            )
    return problems
