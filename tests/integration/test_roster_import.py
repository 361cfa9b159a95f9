"""Importing rosters into the database: create, re-import, update by code, all or nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from grids.core.vocabulary import FacilityLevel, PatientStatus
from grids.models import AuditEntry, Doctor, Facility, Patient
from grids.roster.importing import ImportReport, import_roster
from grids.roster.records import DOCTORS, FACILITIES, PATIENTS, RosterFiles
from grids.storage.database import Database
from tests.support.roster_files import (
    DOCTORS_HEADER,
    FACILITIES_HEADER,
    PATIENTS_HEADER,
    rosters,
    small_roster,
)
from tests.support.roster_files import FACILITIES as FACILITY_LINES
from tests.support.roster_files import PATIENTS as PATIENT_LINES

TODAY = date(2026, 6, 1)
TABLES = ("facilities", "doctors", "patients", "audit_log")

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def run(db: Database, files: RosterFiles, **options: Any) -> ImportReport:
    """One import in its own transaction, committed when the import says so (as the CLI does)."""
    options.setdefault("default_language", "zh_CN")
    options.setdefault("now", NOW)
    with db.unit_of_work() as session:
        report = import_roster(session, files, today=TODAY, **options)
        if report.applied:
            session.commit()
    return report


def counts(report: ImportReport) -> dict[str, tuple[int, int, int, int, int]]:
    return {
        kind: (f.read, f.created, f.updated, f.unchanged, f.bad) for kind, f in report.files.items()
    }


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as connection:
        return {
            table: sorted(
                tuple(map(str, row)) for row in connection.execute(text(f"SELECT * FROM {table}"))
            )
            for table in TABLES
        }


def subdir(tmp_path: Path, name: str) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    return directory


def patients_by_code(session: Session) -> dict[str, Patient]:
    return {p.code: p for p in session.scalars(select(Patient))}


def test_a_clean_import_creates_everything(db: Database, tmp_path: Path) -> None:
    report = run(db, small_roster(tmp_path))
    assert counts(report) == {
        FACILITIES: (4, 4, 0, 0, 0),
        DOCTORS: (2, 2, 0, 0, 0),
        PATIENTS: (3, 3, 0, 0, 0),
    }
    assert report.applied and report.written and report.errors == []
    with db.unit_of_work() as session:
        facilities = {f.code: f for f in session.scalars(select(Facility))}
        assert facilities["V1"].parent_id == facilities["T1"].id
        assert facilities["T1"].parent_id == facilities["C1"].id
        assert facilities["C1"].parent_id is None
        assert facilities["C1"].phone == "+8613900007200"
        assert facilities["V1"].level is FacilityLevel.VILLAGE_CLINIC
        doctor = session.scalars(select(Doctor).where(Doctor.code == "D1")).one()
        assert (doctor.phone, doctor.facility_id, doctor.language) == (
            "+8613900000001",
            facilities["V1"].id,
            "zh_CN",
        )
        patients = patients_by_code(session)
        p1 = patients["P1"]
        assert (p1.primary_condition, p1.conditions) == (
            "hypertension",
            ["hypertension", "diabetes"],
        )
        assert (p1.phone, p1.birth_year, p1.sex, p1.volunteer) == (
            "+8613900000011",
            1952,
            "F",
            True,
        )
        assert (p1.status, p1.language) == (PatientStatus.ACTIVE, "zh_CN")
        assert patients["P3"].phone is None and patients["P3"].volunteer is False
        [audit] = session.scalars(select(AuditEntry)).all()
        assert (audit.actor, audit.action) == ("cli", "roster.import")
        assert audit.after is not None
        assert audit.after["files"]["patients"]["created"] == 3


def test_importing_the_same_files_again_changes_nothing(db: Database, tmp_path: Path) -> None:
    files = small_roster(tmp_path)
    run(db, files)
    before = snapshot(db)
    report = run(db, files)
    assert counts(report) == {
        FACILITIES: (4, 0, 0, 4, 0),
        DOCTORS: (2, 0, 0, 2, 0),
        PATIENTS: (3, 0, 0, 3, 0),
    }
    assert not report.written
    after = snapshot(db)
    assert {t: after[t] for t in TABLES[:3]} == {t: before[t] for t in TABLES[:3]}
    assert len(after["audit_log"]) == 2


def test_an_updated_file_updates_by_code_and_leaves_absent_rows_alone(
    db: Database, tmp_path: Path
) -> None:
    run(db, small_roster(tmp_path))
    with db.unit_of_work() as session:
        stamps = {p.code: p.updated_at for p in session.scalars(select(Patient))}
    updated = small_roster(
        subdir(tmp_path, "v2"),
        facilities=None,
        doctors=None,
        patients=(
            PATIENTS_HEADER,
            "P1,张秀英,13900000099,V2,糖尿病,1952,F,n",
            "P4,赵福贵,13900000014,V1,冠心病,1950,M,y",
        ),
    )
    report = run(db, updated, now=NOW + timedelta(minutes=5))
    assert counts(report) == {PATIENTS: (2, 1, 1, 0, 0)}
    with db.unit_of_work() as session:
        patients = patients_by_code(session)
        assert sorted(patients) == ["P1", "P2", "P3", "P4"]
        p1 = patients["P1"]
        assert (p1.phone, p1.primary_condition, p1.volunteer) == (
            "+8613900000099",
            "diabetes",
            False,
        )
        assert p1.facility.code == "V2"
        assert p1.updated_at > stamps["P1"]
        assert patients["P2"].updated_at == stamps["P2"]


def test_patients_new_to_the_database_get_the_default_language(
    db: Database, tmp_path: Path
) -> None:
    files = small_roster(
        tmp_path,
        patients=(
            PATIENTS_HEADER + ",language",
            "P1,Mary,,V1,HTN,1952,F,y,",
            "P2,张秀英,,V1,高血压,1952,F,y,中文",
        ),
    )
    run(db, files, default_language="en")
    with db.unit_of_work() as session:
        patients = patients_by_code(session)
        assert (patients["P1"].language, patients["P2"].language) == ("en", "zh_CN")
        assert session.scalars(select(Doctor.language)).all() == ["en", "en"]
    # A file without a language column keeps what is stored.
    run(db, small_roster(subdir(tmp_path, "again")))
    with db.unit_of_work() as session:
        assert patients_by_code(session)["P2"].language == "zh_CN"


def test_a_death_is_recorded_and_its_date_kept(db: Database, tmp_path: Path) -> None:
    run(db, small_roster(tmp_path))
    header = PATIENTS_HEADER + ",状态,死亡日期"
    died = subdir(tmp_path, "died")
    report = run(
        db,
        small_roster(
            died,
            facilities=None,
            doctors=None,
            patients=(header, "P1,张秀英,13900000011,V1,高血压;糖尿病,1952,F,y,死亡,2026-05-02"),
        ),
    )
    assert counts(report) == {PATIENTS: (1, 0, 1, 0, 0)}
    later = subdir(tmp_path, "later")
    # A later file that says deceased without the date keeps the date.
    report = run(
        db,
        small_roster(
            later,
            facilities=None,
            doctors=None,
            patients=(header, "P1,张秀英,13900000011,V1,高血压;糖尿病,1952,F,y,deceased,"),
        ),
    )
    assert counts(report) == {PATIENTS: (1, 0, 0, 1, 0)}
    with db.unit_of_work() as session:
        p1 = patients_by_code(session)["P1"]
        assert (p1.status, p1.died_on) == (PatientStatus.DECEASED, date(2026, 5, 2))


def test_a_bad_row_means_nothing_is_written(db: Database, tmp_path: Path) -> None:
    run(db, small_roster(tmp_path))
    before = snapshot(db)
    bad = subdir(tmp_path, "bad")
    files = small_roster(
        bad,
        patients=(
            *PATIENT_LINES,
            "P4,赵福贵,13900000014,V1,高血压,1950,M,y",
            "P5,钱七,,V1,感冒,,,",
        ),
    )
    report = run(db, files)
    assert not report.applied and report.bad_rows == 1
    assert counts(report)[PATIENTS] == (5, 1, 0, 3, 1)
    assert snapshot(db) == before


def test_a_bad_last_row_of_a_large_file_means_nothing_is_written(
    db: Database, tmp_path: Path
) -> None:
    lines = [PATIENTS_HEADER]
    lines += [f"P{n:05d},患者{n},138{n:08d},V1,高血压,1950,M,n" for n in range(6_000)]
    lines.append("P99999,最后一个,138000000xx,V1,高血压,1950,M,n")
    files = small_roster(tmp_path, patients=tuple(lines))
    report = run(db, files)
    assert counts(report)[PATIENTS] == (6_001, 6_000, 0, 0, 1)
    assert [(e.line, e.column) for e in report.errors] == [(6_002, "phone")]
    assert snapshot(db) == {table: [] for table in TABLES}


def test_skip_bad_rows_imports_the_good_rows(db: Database, tmp_path: Path) -> None:
    files = small_roster(
        tmp_path,
        facilities=(*FACILITY_LINES, "V3,北村卫生室,village_clinic,T9,"),
        patients=(*PATIENT_LINES, "P4,赵福贵,,V3,高血压,1950,M,y", "P5,钱七,,V1,感冒,,,"),
    )
    report = run(db, files, skip_bad_rows=True)
    assert report.applied
    assert counts(report) == {
        FACILITIES: (5, 4, 0, 0, 1),
        DOCTORS: (2, 2, 0, 0, 0),
        PATIENTS: (5, 3, 0, 0, 2),
    }
    assert [(e.file, e.line, e.reason_key) for e in report.errors] == [
        (FACILITIES, 6, "roster.error.unknown_parent"),
        (PATIENTS, 5, "roster.error.depends_on_bad_row"),
        (PATIENTS, 6, "roster.error.unknown_condition"),
    ]
    with db.unit_of_work() as session:
        assert sorted(patients_by_code(session)) == ["P1", "P2", "P3"]
        assert session.scalars(select(Facility).where(Facility.code == "V3")).first() is None
        [audit] = session.scalars(select(AuditEntry)).all()
        assert audit.after is not None and audit.after["skipped_bad_rows"] == 3


def test_dry_run_counts_but_writes_nothing(db: Database, tmp_path: Path) -> None:
    files = small_roster(tmp_path)
    report = run(db, files, dry_run=True)
    assert counts(report)[PATIENTS] == (3, 3, 0, 0, 0)
    assert not report.applied
    assert snapshot(db) == {table: [] for table in TABLES}


def test_two_patients_may_swap_phones(db: Database, tmp_path: Path) -> None:
    run(db, small_roster(tmp_path))
    swap = subdir(tmp_path, "swap")
    files = small_roster(
        swap,
        facilities=None,
        doctors=(DOCTORS_HEADER, "D1,王医生,13900000002,V1", "D2,李医生,13900000001,V2"),
        patients=(
            PATIENTS_HEADER,
            "P1,张秀英,13900000012,V1,高血压;糖尿病,1952,F,y",
            "P2,李建国,13900000011,V1,hypertension,1948,M,n",
            "P3,王桂兰,13900000013,V2,糖尿病,1960,女,",
        ),
    )
    report = run(db, files)
    assert report.errors == []
    assert counts(report) == {DOCTORS: (2, 0, 2, 0, 0), PATIENTS: (3, 0, 3, 0, 0)}
    with db.unit_of_work() as session:
        patients = patients_by_code(session)
        assert (patients["P1"].phone, patients["P2"].phone) == ("+8613900000012", "+8613900000011")
        doctors = {d.code: d.phone for d in session.scalars(select(Doctor))}
        assert doctors == {"D1": "+8613900000002", "D2": "+8613900000001"}


def test_a_new_patient_may_take_a_phone_another_gives_up(db: Database, tmp_path: Path) -> None:
    run(db, small_roster(tmp_path))
    moved = subdir(tmp_path, "moved")
    files = small_roster(
        moved,
        facilities=None,
        doctors=None,
        patients=(
            PATIENTS_HEADER,
            "P1,张秀英,,V1,高血压;糖尿病,1952,F,y",
            "P4,张秀英家属,13900000011,V1,高血压,1950,M,n",
        ),
    )
    report = run(db, files)
    assert counts(report) == {PATIENTS: (2, 1, 1, 0, 0)}
    with db.unit_of_work() as session:
        patients = patients_by_code(session)
        assert (patients["P1"].phone, patients["P4"].phone) == (None, "+8613900000011")


def test_facilities_update_by_code_including_new_parents(db: Database, tmp_path: Path) -> None:
    run(db, small_roster(tmp_path))
    regrouped = subdir(tmp_path, "regrouped")
    files = small_roster(
        regrouped,
        facilities=(
            FACILITIES_HEADER,
            "T2,张兰镇卫生院,township_center,C1,0354-7300002",
            "V2,西村卫生室,village_clinic,T2,",
        ),
        doctors=None,
        patients=None,
    )
    report = run(db, files)
    assert counts(report) == {FACILITIES: (2, 1, 1, 0, 0)}
    with db.unit_of_work() as session:
        facilities = {f.code: f for f in session.scalars(select(Facility))}
        assert facilities["V2"].parent_id == facilities["T2"].id
        assert facilities["T2"].parent_id == facilities["C1"].id
        assert facilities["V1"].parent_id == facilities["T1"].id


def test_the_import_writes_in_the_callers_transaction(db: Database, tmp_path: Path) -> None:
    """Nothing is committed by the import: rolling the caller's transaction back undoes it."""
    with db.unit_of_work() as session:
        report = import_roster(
            session, small_roster(tmp_path), default_language="zh_CN", now=NOW, today=NOW.date()
        )
        assert report.applied
        assert session.scalar(select(Patient.code).where(Patient.code == "P1")) == "P1"
        session.rollback()
    assert snapshot(db) == {table: [] for table in TABLES}


def test_only_one_file_may_be_given(db: Database, tmp_path: Path) -> None:
    report = run(db, small_roster(tmp_path, doctors=None, patients=None))
    assert counts(report) == {FACILITIES: (4, 4, 0, 0, 0)}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(roster=rosters())
def test_any_generated_roster_imports_and_reimports_as_a_no_op(
    db: Database, tmp_path_factory: pytest.TempPathFactory, roster: Any
) -> None:
    facilities, doctors, patients = roster
    directory = tmp_path_factory.mktemp("generated")
    files = small_roster(
        directory,
        facilities=tuple(facilities),
        doctors=tuple(doctors),
        patients=tuple(patients),
    )
    try:
        first = run(db, files)
        assert first.errors == [] and first.applied
        assert [f.created for f in first.files.values()] == [
            len(facilities) - 1,
            len(doctors) - 1,
            len(patients) - 1,
        ]
        before = snapshot(db)
        again = run(db, files)
        assert [f.unchanged for f in again.files.values()] == [f.read for f in again.files.values()]
        after = snapshot(db)
        assert {t: after[t] for t in TABLES[:3]} == {t: before[t] for t in TABLES[:3]}
    finally:
        with db.engine.begin() as connection:
            for table in ("audit_log", "patients", "doctors"):
                connection.execute(text(f"DELETE FROM {table}"))
            connection.execute(text("UPDATE facilities SET parent_id = NULL"))
            connection.execute(text("DELETE FROM facilities"))
