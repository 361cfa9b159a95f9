"""`flask grids form` against the database (SQLite, or PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grids.core.vocabulary import PatientStatus
from grids.formation import service as formation_service
from grids.models import AuditEntry, Grid, Membership, Patient
from grids.roster.records import RosterFiles
from grids.storage.database import Database
from i18n import translate
from tests.support import factories
from tests.support.roster_files import csv_file

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _t(key: str, **params: object) -> str:
    return translate(key, "zh_CN", **params)


def _grids(db: Database) -> dict[str, tuple[int, str | None, str | None]]:
    """code -> (members, doctor code, coordinator code)."""
    with db.unit_of_work() as session:
        grids = session.scalars(select(Grid)).all()
        result: dict[str, tuple[int, str | None, str | None]] = {}
        for grid in grids:
            members = session.scalar(
                select(func.count()).where(
                    Membership.grid_id == grid.id, Membership.left_at.is_(None)
                )
            )
            result[grid.code] = (
                members or 0,
                grid.doctor.code if grid.doctor else None,
                grid.coordinator.code if grid.coordinator else None,
            )
        return result


def _audit_count(db: Database) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def _roster(session: Session) -> dict:
    tree = factories.facility_tree(session, prefix="A")
    clinic = tree["clinic_a"]
    doctor = factories.doctor(session, clinic, code="DA1")
    factories.patient(session, clinic, volunteer=True, code="P0001")
    factories.patient(session, clinic, volunteer=True, code="P0002")
    for number in range(3, 26):
        factories.patient(session, clinic, code=f"P{number:04d}")
    for number in range(26, 29):
        factories.patient(session, clinic, condition="diabetes", code=f"P{number:04d}")
    factories.patient(session, clinic, status=PatientStatus.DECEASED, code="P0029")
    factories.patient(session, tree["clinic_b"], code="P0030")
    session.commit()
    return {**tree, "doctor": doctor}


def test_form_places_the_roster_and_records_an_audit_entry(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _roster(session)

    result = runner.invoke(args=["grids", "form"])

    assert result.exit_code == 0, result.output
    assert _t("formation.report.written") in result.output
    # 28 patients at AV1 make two grids of 14, not one per condition; a volunteer is
    # swapped into the mixed grid so that each grid has a coordinator.
    assert _grids(db) == {
        "AV1-HTN01": (14, "DA1", "P0002"),
        "AV1-MIX01": (14, "DA1", "P0001"),
        "AV2-HTN01": (1, "DA1", None),
    }
    assert "AV2-HTN01" in result.output
    with db.unit_of_work() as check:
        entry = check.scalars(select(AuditEntry)).one()
        assert entry.action == "grids.form"
        assert entry.after is not None
        assert entry.after["grids_created"] == 3
        assert entry.after["placed_in_new"] == 29
        deceased = check.scalars(select(Patient).where(Patient.code == "P0029")).one()
        placed = check.scalar(select(func.count()).where(Membership.patient_id == deceased.id))
        assert placed == 0


def test_dry_run_reports_but_writes_nothing(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _roster(session)

    result = runner.invoke(args=["grids", "form", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert _t("formation.report.title_dry_run") in result.output
    assert _t("formation.report.not_written") in result.output
    assert _grids(db) == {}
    assert _audit_count(db) == 0


def test_a_second_run_without_changes_writes_nothing(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _roster(session)
    runner.invoke(args=["grids", "form"])
    export_before = runner.invoke(args=["grids", "export"]).stdout
    assert len(export_before.splitlines()) == 1 + 29
    with db.unit_of_work() as check:
        versions = dict(check.execute(select(Grid.code, Grid.version)).tuples().all())

    result = runner.invoke(args=["grids", "form"])

    assert result.exit_code == 0, result.output
    assert _t("formation.report.unchanged") in result.output
    assert _audit_count(db) == 1
    assert runner.invoke(args=["grids", "export"]).stdout == export_before
    with db.unit_of_work() as check:
        assert dict(check.execute(select(Grid.code, Grid.version)).tuples().all()) == versions


def test_a_rerun_places_newcomers_and_closes_memberships_of_those_who_left(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    tree = _roster(session)
    runner.invoke(args=["grids", "form"])
    with db.unit_of_work() as change:
        gone = change.scalars(select(Patient).where(Patient.code == "P0003")).one()
        gone.status = PatientStatus.DECEASED
        factories.patient(change, tree["clinic_a"], code="P0031")
        change.commit()

    result = runner.invoke(args=["grids", "form"])

    assert result.exit_code == 0, result.output
    grids = _grids(db)
    assert grids["AV1-HTN01"][0] + grids["AV1-MIX01"][0] == 28
    with db.unit_of_work() as check:
        closed = check.scalars(
            select(Membership).join(Patient).where(Patient.code == "P0003")
        ).one()
        assert closed.left_at is not None
        assert closed.left_reason == "deceased"
        newcomer = check.scalars(
            select(Membership).join(Patient).where(Patient.code == "P0031")
        ).one()
        assert newcomer.left_at is None
        assert newcomer.grid_id == closed.grid_id
        assert newcomer.seat == closed.seat


def test_facility_limits_formation_to_that_clinic(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _roster(session)

    result = runner.invoke(args=["grids", "form", "--facility", "AV2"])

    assert result.exit_code == 0, result.output
    assert _grids(db) == {"AV2-HTN01": (1, "DA1", None)}
    assert _t("formation.report.scope", facility="AV2", clinics=1) in result.output


def test_a_patient_who_moved_clinic_leaves_the_old_grid_when_the_new_clinic_is_formed(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    tree = _roster(session)
    runner.invoke(args=["grids", "form"])
    with db.unit_of_work() as change:
        mover = change.scalars(select(Patient).where(Patient.code == "P0025")).one()
        mover.facility_id = tree["clinic_b"].id
        change.commit()

    result = runner.invoke(args=["grids", "form", "--facility", "AV2"])

    assert result.exit_code == 0, result.output
    with db.unit_of_work() as check:
        memberships = check.execute(
            select(Grid.code, Membership.left_reason)
            .join(Grid, Grid.id == Membership.grid_id)
            .join(Patient, Patient.id == Membership.patient_id)
            .where(Patient.code == "P0025")
            .order_by(Membership.id)
        ).all()
    (old_grid, old_reason), (new_grid, new_reason) = memberships
    assert old_grid.startswith("AV1-") and old_reason == "facility_changed"
    assert (new_grid, new_reason) == ("AV2-HTN01", None)


def test_shortfall_is_reported_and_the_cap_holds(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    tree = factories.facility_tree(session, prefix="S")
    factories.doctor(session, tree["clinic_a"], code="DS1")
    for number in range(17 * 20):
        factories.patient(session, tree["clinic_b"], code=f"S{number:04d}")
    session.commit()

    result = runner.invoke(args=["grids", "form"])

    assert result.exit_code == 0, result.output
    assert _t("formation.report.shortfall_title", cap=15) in result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert ["SV2", "2", "1"] in lines
    doctors = [doctor for _, doctor, _ in _grids(db).values()]
    assert doctors.count("DS1") == 15
    assert doctors.count(None) == 2


def test_an_unknown_facility_fails_with_a_clear_message(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _roster(session)

    result = runner.invoke(args=["grids", "form", "--facility", "NOPE"])

    assert result.exit_code != 0
    assert _t("formation.error.unknown_facility", code="NOPE") in result.stderr
    assert _grids(db) == {}


@pytest.mark.postgres
def test_a_bulk_write_keeps_the_memberships_foreign_keys(
    runner: FlaskCliRunner, session: Session, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formation_service, "BULK_MEMBERSHIPS", 1)
    _roster(session)

    result = runner.invoke(args=["grids", "form"])

    assert result.exit_code == 0, result.output
    assert sum(members for members, _, _ in _grids(db).values()) == 29
    foreign_keys = {fk["name"] for fk in inspect(db.engine).get_foreign_keys("memberships")}
    assert foreign_keys == {
        "fk_memberships_grid_id_grids",
        "fk_memberships_patient_id_patients",
    }
    with db.unit_of_work() as check:
        grid_id = check.scalars(select(Grid.id)).first()
        check.add(Membership(grid_id=grid_id, patient_id=999_999, seat=20))
        with pytest.raises(IntegrityError):
            check.flush()


@pytest.mark.postgres
def test_two_formations_at_once_run_one_after_the_other(session: Session, db: Database) -> None:
    _roster(session)
    outcome: dict[str, formation_service.FormationResult] = {}

    def second_formation() -> None:
        with db.unit_of_work() as other:
            outcome["second"] = formation_service.form_grids_in_database(other, now=NOW)
            other.commit()

    with db.unit_of_work() as first:
        assert formation_service.form_grids_in_database(first, now=NOW).written
        waiting = threading.Thread(target=second_formation)
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive(), "the second formation did not wait for the first"
        first.commit()
    waiting.join(timeout=30)

    assert outcome["second"].plan.is_empty
    assert sum(members for members, _, _ in _grids(db).values()) == 29


def test_after_a_reimport_grids_follow_changed_volunteers_conditions_and_doctors(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    facilities = (
        "code,name,level,parent_code",
        "C1,县医院,county_hospital,",
        "T1,一镇卫生院,township_center,C1",
        "T2,二镇卫生院,township_center,C1",
        "V1,东村卫生室,village_clinic,T1",
        "V3,南村卫生室,village_clinic,T2",
    )
    patients = ["code,name,phone,facility_code,conditions,volunteer"]
    patients += [
        f"P{n:02d},患者{n},1390000{n:04d},V1,高血压,{'y' if n == 1 else 'n'}" for n in range(1, 21)
    ]
    patients += [f"P{n:02d},患者{n},1390000{n:04d},V1,糖尿病,n" for n in range(21, 40)]

    def load(doctors: list[str], patient_lines: list[str]) -> None:
        files = RosterFiles(
            csv_file(tmp_path, "facilities.csv", *facilities),
            csv_file(tmp_path, "doctors.csv", "code,name,phone,facility_code", *doctors),
            csv_file(tmp_path, "patients.csv", *patient_lines),
        )
        command = ["roster", "import"]
        for kind, path in files.given():
            command += [f"--{kind}", str(path)]
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output

    load(["D1,王医生,13800000001,V1"], patients)
    assert runner.invoke(args=["grids", "form"]).exit_code == 0
    assert _grids(db) == {"V1-HTN01": (20, "D1", "P01"), "V1-DM01": (19, "D1", None)}

    patients[1] = patients[1].removesuffix(",y") + ",n"  # P01 no longer volunteers
    patients[2] = patients[2].replace("高血压", "糖尿病")  # P02's primary condition changed
    load(["D1,王医生,13800000001,V3", "D2,李医生,13800000002,V1"], patients)
    result = runner.invoke(args=["grids", "form"])

    assert result.exit_code == 0, result.output
    assert _grids(db) == {"V1-HTN01": (19, "D2", None), "V1-DM01": (20, "D2", None)}
    assert _t("formation.left_reason.condition_changed") in result.stdout
    report = {
        line.rsplit(None, 1)[0]: line.rsplit(None, 1)[1]
        for line in result.stdout.splitlines()
        if "  " in line
    }
    assert report[_t("formation.report.doctors_released")] == "2"
    assert report[_t("formation.report.coordinators_released")] == "1"
    assert "V1-HTN01" in result.stdout.split(_t("formation.report.needs_coordinator_list"))[1]


def test_form_dry_run_json_gives_the_formation_figures(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _roster(session)

    result = runner.invoke(args=["grids", "form", "--dry-run", "--format", "json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "grids": 3,
        "members": 29,
        "mean_size": 9.67,
        "min_grids": 3,
        "mixed_grids": 1,
        "small_grids": 1,
        "same_condition_share": 1.0,
    }
    assert _grids(db) == {}


def test_the_report_prints_the_formation_figures(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _roster(session)

    result = runner.invoke(args=["grids", "form"])

    assert _t("formation.report.figures_title") in result.output
    lines = {
        line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1]
        for line in result.output.splitlines()
        if "  " in line.strip()
    }
    assert lines[_t("formation.figure.min_grids")] == "3"
    assert lines[_t("formation.figure.mean_size")] == "9.7"
