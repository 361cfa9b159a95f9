"""Checks between rows, files and what the database holds: facilities, cycles, phones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from grids.core.vocabulary import FacilityLevel
from grids.roster.reading import read_roster
from grids.roster.records import DOCTORS, FACILITIES, PATIENTS, RosterFiles, render_error
from grids.roster.references import (
    ExistingFacility,
    ExistingRoster,
    ValidatedRoster,
    validate_roster,
)
from tests.support.roster_files import DOCTORS as DOCTOR_LINES
from tests.support.roster_files import (
    DOCTORS_HEADER,
    FACILITIES_HEADER,
    PATIENTS_HEADER,
    csv_file,
    rosters,
    small_roster,
)
from tests.support.roster_files import PATIENTS as PATIENT_LINES

TODAY = date(2026, 6, 1)
V = FacilityLevel.VILLAGE_CLINIC
T = FacilityLevel.TOWNSHIP_CENTER
C = FacilityLevel.COUNTY_HOSPITAL


def validate(files: RosterFiles, existing: ExistingRoster | None = None) -> ValidatedRoster:
    return validate_roster(read_roster(files, today=TODAY), existing or ExistingRoster())


def errors(result: ValidatedRoster) -> list[tuple[str, int | None, str]]:
    return [(e.file, e.line, e.reason_key.removeprefix("roster.error.")) for e in result.errors]


def stored_tree() -> dict[str, ExistingFacility]:
    return {
        "C1": ExistingFacility("C1", C, None),
        "T1": ExistingFacility("T1", T, "C1"),
        "V1": ExistingFacility("V1", V, "T1"),
    }


def test_a_consistent_roster_has_no_errors(tmp_path: Path) -> None:
    result = validate(small_roster(tmp_path))
    assert result.errors == []
    assert [len(result.facilities), len(result.doctors), len(result.patients)] == [4, 2, 3]


def test_patients_alone_are_checked_against_stored_facilities(tmp_path: Path) -> None:
    files = small_roster(tmp_path, facilities=None, doctors=None)
    assert errors(validate(files)) == [
        (PATIENTS, 2, "unknown_facility"),
        (PATIENTS, 3, "unknown_facility"),
        (PATIENTS, 4, "unknown_facility"),
    ]
    existing = ExistingRoster(facilities={**stored_tree(), "V2": ExistingFacility("V2", V, "T1")})
    assert validate(files, existing).errors == []


def test_doctors_and_patients_belong_to_a_village_clinic(tmp_path: Path) -> None:
    files = small_roster(
        tmp_path,
        doctors=(DOCTORS_HEADER, "D1,王医生,13900000001,T1"),
        patients=(PATIENTS_HEADER, "P1,张秀英,,C1,高血压,,,"),
    )
    result = validate(files)
    assert errors(result) == [
        (DOCTORS, 2, "not_village_clinic"),
        (PATIENTS, 2, "not_village_clinic"),
    ]
    assert "township_center (乡镇卫生院)" in render_error(result.errors[0], "d.csv", "en")


def test_rows_depending_on_a_bad_facility_row_are_bad_too(tmp_path: Path) -> None:
    files = small_roster(
        tmp_path,
        facilities=(
            FACILITIES_HEADER,
            "C1,介休市人民医院,county_hospital,,",
            "T1,义安镇卫生院,township_center,C1,12345",
            "V1,东村卫生室,village_clinic,T1,",
            "V2,西村卫生室,village_clinic,T1,",
        ),
    )
    result = validate(files)
    assert errors(result) == [
        (FACILITIES, 3, "invalid_phone"),
        (FACILITIES, 4, "depends_on_bad_row"),
        (FACILITIES, 5, "depends_on_bad_row"),
        (DOCTORS, 2, "depends_on_bad_row"),
        (DOCTORS, 3, "depends_on_bad_row"),
        (PATIENTS, 2, "depends_on_bad_row"),
        (PATIENTS, 3, "depends_on_bad_row"),
        (PATIENTS, 4, "depends_on_bad_row"),
    ]
    assert result.errors[-1].params == {"code": "V2", "file": "facilities.csv", "line": 5}
    assert [row.code for row in result.facilities] == ["C1"]
    assert result.doctors == [] and result.patients == []


def test_unknown_parent_and_parent_of_the_wrong_level(tmp_path: Path) -> None:
    files = small_roster(
        tmp_path,
        facilities=(
            FACILITIES_HEADER,
            "C1,介休市人民医院,county_hospital,,",
            "T1,义安镇卫生院,township_center,C1,",
            "V1,东村卫生室,village_clinic,T1,",
            "V2,西村卫生室,village_clinic,V1,",
            "V3,北村卫生室,village_clinic,T9,",
            "T2,张兰镇卫生院,township_center,,",
        ),
        doctors=None,
        patients=None,
    )
    result = validate(files)
    assert errors(result) == [
        (FACILITIES, 5, "parent_level"),
        (FACILITIES, 6, "unknown_parent"),
        (FACILITIES, 7, "parent_required"),
    ]
    assert result.errors[0].params["parent_level"] == "village_clinic (村卫生室)"


def test_every_facility_on_a_parent_cycle_is_reported(tmp_path: Path) -> None:
    files = small_roster(
        tmp_path,
        facilities=(
            FACILITIES_HEADER,
            "C1,介休市人民医院,county_hospital,,",
            "T1,义安镇卫生院,township_center,T3,",
            "T2,张兰镇卫生院,township_center,T1,",
            "T3,连福镇卫生院,township_center,T2,",
            "T4,洪山镇卫生院,township_center,T4,",
            "V1,东村卫生室,village_clinic,T1,",
        ),
        doctors=None,
        patients=None,
    )
    result = validate(files)
    assert errors(result) == [
        (FACILITIES, 3, "parent_cycle"),
        (FACILITIES, 4, "parent_cycle"),
        (FACILITIES, 5, "parent_cycle"),
        (FACILITIES, 6, "parent_cycle"),
        (FACILITIES, 7, "depends_on_bad_row"),
    ]
    assert result.errors[0].params["cycle"] == "T1 → T3 → T2 → T1"
    assert result.errors[3].params["cycle"] == "T4 → T4"


def test_a_cycle_through_stored_facilities_is_found(tmp_path: Path) -> None:
    existing = ExistingRoster(facilities={**stored_tree()})
    files = small_roster(
        tmp_path,
        facilities=(FACILITIES_HEADER, "C1,介休市人民医院,county_hospital,V1,"),
        doctors=None,
        patients=None,
    )
    result = validate(files, existing)
    assert errors(result) == [(FACILITIES, 2, "parent_cycle")]
    assert result.errors[0].params["cycle"] == "C1 → V1 → T1 → C1"


def test_a_clinic_in_use_keeps_its_level(tmp_path: Path) -> None:
    existing = ExistingRoster(
        facilities={**stored_tree(), "V1": ExistingFacility("V1", V, "T1", in_use=True)}
    )
    files = small_roster(
        tmp_path,
        facilities=(FACILITIES_HEADER, "V1,东村卫生院,township_center,C1,"),
        doctors=None,
        patients=None,
    )
    assert errors(validate(files, existing)) == [(FACILITIES, 2, "level_in_use")]


def test_a_level_change_may_not_strand_stored_children(tmp_path: Path) -> None:
    files = small_roster(
        tmp_path,
        facilities=(FACILITIES_HEADER, "T1,义安镇医院,tcm_hospital,C1,"),
        doctors=None,
        patients=None,
    )
    result = validate(files, ExistingRoster(facilities=stored_tree()))
    assert errors(result) == [(FACILITIES, 2, "child_level")]
    assert result.errors[0].params["child"] == "V1"


def test_a_phone_may_be_used_once_across_doctors_and_patients(tmp_path: Path) -> None:
    files = small_roster(
        tmp_path,
        patients=(
            PATIENTS_HEADER,
            "P1,张秀英,13900000001,V1,高血压,,,",
            "P2,李建国,13900000012,V1,高血压,,,",
            "P3,王桂兰,139-0000-0012,V2,高血压,,,",
        ),
    )
    result = validate(files)
    assert errors(result) == [
        (DOCTORS, 2, "duplicate_phone_in_file"),
        (PATIENTS, 2, "duplicate_phone_in_file"),
        (PATIENTS, 3, "duplicate_phone_in_file"),
        (PATIENTS, 4, "duplicate_phone_in_file"),
    ]
    assert result.errors[0].params == {"phone": "+86139****0001", "file": "patients.csv", "line": 2}
    text = render_error(result.errors[3], "patients.csv", "zh_CN")
    assert "13900000012" not in text and "+86139****0012" in text and "第3行" in text


def test_a_phone_held_by_someone_else_in_the_database_is_refused(tmp_path: Path) -> None:
    existing = ExistingRoster(
        facilities={**stored_tree(), "V2": ExistingFacility("V2", V, "T1")},
        phone_owners={"+8613900000011": (PATIENTS, "P7"), "+8613900000012": (DOCTORS, "D7")},
    )
    files = small_roster(tmp_path, facilities=None, doctors=None)
    assert errors(validate(files, existing)) == [
        (PATIENTS, 2, "phone_held_by_patient"),
        (PATIENTS, 3, "phone_held_by_doctor"),
    ]


def test_a_person_keeps_their_own_stored_phone(tmp_path: Path) -> None:
    existing = ExistingRoster(
        facilities={**stored_tree(), "V2": ExistingFacility("V2", V, "T1")},
        phone_owners={"+8613900000011": (PATIENTS, "P1")},
    )
    files = small_roster(tmp_path, facilities=None, doctors=None)
    assert validate(files, existing).errors == []


def test_phones_may_swap_between_people_in_the_file(tmp_path: Path) -> None:
    existing = ExistingRoster(
        facilities={**stored_tree(), "V2": ExistingFacility("V2", V, "T1")},
        phone_owners={"+8613900000011": (PATIENTS, "P2"), "+8613900000012": (PATIENTS, "P1")},
    )
    files = small_roster(tmp_path, facilities=None, doctors=None)
    assert validate(files, existing).errors == []


def test_a_swap_fails_on_both_sides_when_one_side_is_bad(tmp_path: Path) -> None:
    existing = ExistingRoster(
        facilities=stored_tree(),
        phone_owners={"+8613900000011": (PATIENTS, "P2"), "+8613900000012": (PATIENTS, "P1")},
    )
    files = small_roster(
        tmp_path,
        facilities=None,
        doctors=None,
        patients=(
            PATIENTS_HEADER,
            "P1,张秀英,13900000011,V1,高血压,1952,F,y",
            "P2,李建国,13900000012,V1,高血压,1800,M,n",
        ),
    )
    # P2 is not imported, so it keeps +8613900000011, which P1 cannot take.
    assert errors(validate(files, existing)) == [
        (PATIENTS, 2, "phone_held_by_patient"),
        (PATIENTS, 3, "birth_year_range"),
    ]


def test_a_patients_file_without_phones_keeps_stored_phones(tmp_path: Path) -> None:
    existing = ExistingRoster(
        facilities=stored_tree(), phone_owners={"+8613900000001": (PATIENTS, "P1")}
    )
    files = small_roster(
        tmp_path,
        facilities=None,
        patients=None,
        doctors=(DOCTORS_HEADER, "D1,王医生,13900000001,V1"),
    )
    assert errors(validate(files, existing)) == [(DOCTORS, 2, "phone_held_by_patient")]


def test_a_row_with_bad_fields_also_reports_an_unknown_facility(tmp_path: Path) -> None:
    files = small_roster(tmp_path, patients=(PATIENTS_HEADER, "P1,张秀英,123,V9,高血压,,,"))
    assert errors(validate(files)) == [
        (PATIENTS, 2, "invalid_phone"),
        (PATIENTS, 2, "unknown_facility"),
    ]


def test_a_file_error_stops_the_checks_between_files(tmp_path: Path) -> None:
    files = RosterFiles(
        facilities=csv_file(tmp_path, "f.csv", "code,name", "C1,医院"),
        doctors=csv_file(tmp_path, "d.csv", *DOCTOR_LINES),
        patients=csv_file(tmp_path, "p.csv", *PATIENT_LINES),
    )
    result = validate(files)
    assert result.has_file_error
    assert errors(result) == [(FACILITIES, 1, "missing_column")]


# --- generated rosters ---------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(roster=rosters())
def test_any_generated_valid_roster_validates_cleanly(
    tmp_path: Path, roster: tuple[list[str], list[str], list[str]]
) -> None:
    facilities, doctors, patients = roster
    files = small_roster(
        tmp_path, facilities=tuple(facilities), doctors=tuple(doctors), patients=tuple(patients)
    )
    result = validate(files)
    assert result.errors == []
    assert len(result.facilities) == len(facilities) - 1
    assert len(result.doctors) == len(doctors) - 1
    assert len(result.patients) == len(patients) - 1
    assert all(row.conditions for row in result.patients)
