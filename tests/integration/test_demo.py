"""`flask demo`: a small synthetic county, loaded and formed, twice."""

from __future__ import annotations

import csv
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from grids.models import AuditEntry, Doctor, Facility, Grid, Membership, Patient
from grids.storage.database import Database
from i18n import translate
from tests.support.roster_files import FACILITIES, small_roster


def _counts(db: Database) -> dict[str, int]:
    with db.unit_of_work() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Facility, Doctor, Patient, Grid, Membership, AuditEntry)
        }


def test_demo_loads_and_forms_a_county_and_a_second_run_changes_nothing(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    args = ["demo", "--patients", "600", "--directory", str(tmp_path)]

    first = runner.invoke(args=args)

    assert first.exit_code == 0, first.output
    with (tmp_path / "patients.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 600
    counts = _counts(db)
    assert counts["patients"] == 600
    assert counts["memberships"] == 600
    assert counts["grids"] > 600 // 20
    assert translate("demo.summary.title", "zh_CN") in first.stdout
    summary = {
        line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1]
        for line in first.stdout.splitlines()
        if line.strip() and len(line.split()) >= 2
    }
    assert summary[translate("demo.summary.patients", "zh_CN")] == "600"
    assert summary[translate("demo.summary.grids", "zh_CN")] == str(counts["grids"])
    assert translate("demo.unchanged", "zh_CN") not in first.stdout
    export = runner.invoke(args=["grids", "export"]).stdout

    second = runner.invoke(args=args)

    assert second.exit_code == 0, second.output
    assert translate("demo.unchanged", "zh_CN") in second.stdout
    assert _counts(db) == counts
    assert runner.invoke(args=["grids", "export"]).stdout == export


def test_the_same_seed_gives_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    from grids.demo.synthetic import generate_county, write_csv_files

    first = write_csv_files(generate_county(300, seed=7), tmp_path / "a")
    again = write_csv_files(generate_county(300, seed=7), tmp_path / "b")
    other = write_csv_files(generate_county(300, seed=8), tmp_path / "c")

    for kind in ("facilities", "doctors", "patients"):
        assert first[kind].read_bytes() == again[kind].read_bytes()
    assert first["patients"].read_bytes() != other["patients"].read_bytes()


def test_demo_refuses_a_database_holding_a_real_roster(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    files = small_roster(tmp_path, facilities=FACILITIES, doctors=None, patients=None)
    command = ["roster", "import", "--facilities", str(files.facilities)]
    assert runner.invoke(args=command).exit_code == 0
    before = _counts(db)

    demo = tmp_path / "demo"
    result = runner.invoke(args=["demo", "--patients", "300", "--directory", str(demo)])

    assert result.exit_code == 1
    assert translate("demo.error.foreign_roster", "zh_CN", kind="机构", code="C1") in result.stderr
    assert _counts(db) == before
    assert not demo.exists()


def test_demo_of_another_size_is_refused_over_an_earlier_demo(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    assert (
        runner.invoke(args=["demo", "--patients", "600", "--directory", str(tmp_path)]).exit_code
        == 0
    )
    before = _counts(db)

    result = runner.invoke(args=["demo", "--patients", "300", "--directory", str(tmp_path)])

    assert result.exit_code == 1
    refusal = translate("demo.error.foreign_roster", "zh_CN", kind="KIND", code="CODE")
    assert refusal.split("KIND")[0] in result.stderr
    assert refusal.split("CODE")[1] in result.stderr
    assert _counts(db) == before
