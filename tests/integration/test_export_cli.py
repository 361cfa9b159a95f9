"""`flask grids export`: one row per current membership, in CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.formation.export import EXPORT_COLUMNS
from grids.models import Membership, Patient
from grids.storage.database import Database, utcnow
from i18n import translate
from tests.support import factories

HEADER = (
    "grid_code,facility_code,condition,doctor_code,coordinator_code,member_code,seat,deputy_code"
)


def _formed(runner: FlaskCliRunner, session: Session) -> None:
    tree = factories.facility_tree(session, prefix="E")
    factories.doctor(session, tree["clinic_a"], code="DE1")
    factories.patient(session, tree["clinic_a"], volunteer=True, code="EP01")
    factories.patient(session, tree["clinic_a"], volunteer=True, code="EP02")
    for number in range(3, 8):
        factories.patient(session, tree["clinic_a"], code=f"EP{number:02d}")
    factories.patient(session, tree["clinic_b"], condition="copd", code="EP08")
    factories.patient(session, tree["clinic_b"], condition="diabetes", code="EP09")
    session.commit()
    assert runner.invoke(args=["grids", "form"]).exit_code == 0


def test_csv_to_standard_output_lists_memberships_by_grid_then_seat(
    runner: FlaskCliRunner, session: Session
) -> None:
    _formed(runner, session)

    result = runner.invoke(args=["grids", "export"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == HEADER
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert rows[0] == ["EV1-HTN01", "EV1", "hypertension", "DE1", "EP01", "EP01", "1", "EP02"]
    assert [(row[0], int(row[6])) for row in rows] == sorted((row[0], int(row[6])) for row in rows)
    assert len(rows) == 9
    assert ["EV2-MIX01", "EV2", "mixed", "DE1", "", "EP08", "1", ""] in rows


def test_members_who_left_are_not_exported(
    runner: FlaskCliRunner, session: Session, db: Database
) -> None:
    _formed(runner, session)
    with db.unit_of_work() as change:
        membership = change.scalars(
            select(Membership).join(Patient).where(Patient.code == "EP05")
        ).one()
        membership.left_at = utcnow()
        change.commit()

    result = runner.invoke(args=["grids", "export"])

    assert "EP05" not in result.stdout
    assert len(result.stdout.splitlines()) == 1 + 8


def test_csv_written_to_a_file_starts_with_a_bom_for_excel(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    _formed(runner, session)
    target = tmp_path / "网格.csv"

    result = runner.invoke(args=["grids", "export", "--output", str(target)])

    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + HEADER.encode())
    stdout_rows = runner.invoke(args=["grids", "export"]).stdout
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == list(
        csv.reader(io.StringIO(stdout_rows))
    )
    assert translate("export.written", "zh_CN", count=9, path=str(target)) in result.stderr


def test_json_has_items_with_numeric_seats_and_null_for_no_coordinator(
    runner: FlaskCliRunner, session: Session
) -> None:
    _formed(runner, session)

    result = runner.invoke(args=["grids", "export", "--format", "json"])

    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["items"]
    assert len(items) == 9
    assert list(items[0]) == list(EXPORT_COLUMNS)
    assert items[0]["seat"] == 1
    mixed = [item for item in items if item["grid_code"] == "EV2-MIX01"]
    assert mixed[0]["coordinator_code"] is None
    assert mixed[0]["deputy_code"] is None
    assert items[0]["deputy_code"] == "EP02"
    assert mixed[0]["doctor_code"] == "DE1"


def test_an_empty_county_exports_just_the_header_or_no_items(
    runner: FlaskCliRunner,
) -> None:
    assert runner.invoke(args=["grids", "export"]).stdout.strip() == HEADER
    assert json.loads(runner.invoke(args=["grids", "export", "--format", "json"]).stdout) == {
        "items": []
    }


def test_an_unwritable_output_fails_with_a_message_and_leaves_no_file(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    _formed(runner, session)
    target = tmp_path / "missing-directory" / "grids.csv"

    result = runner.invoke(args=["grids", "export", "--output", str(target)])

    assert result.exit_code != 0
    assert str(target) in result.stderr
    assert not target.parent.exists()
    assert result.stdout == ""
