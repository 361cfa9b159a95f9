"""`flask --app wsgi roster import`: exit codes, stderr, the summary table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from grids.models import AuditEntry, Facility, Patient
from grids.roster import importing as roster_import
from grids.roster.records import RosterFiles
from grids.storage.database import Database
from grids.storage.session import database_of
from tests.support.app import empty_all_tables, make_app
from tests.support.roster_files import PATIENTS as PATIENT_LINES
from tests.support.roster_files import PATIENTS_HEADER, csv_file, small_roster


def args(files: RosterFiles, *flags: str) -> list[str]:
    command = ["roster", "import"]
    for kind, path in files.given():
        command += [f"--{kind}", str(path)]
    return [*command, *flags]


def count(db: Database, model: type) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def bad_roster(tmp_path: Path) -> RosterFiles:
    return small_roster(
        tmp_path,
        patients=(
            *PATIENT_LINES,
            "P4,赵福贵,1390000001,V1,高血压,1950,M,y",
            "P5,钱七,,V9,感冒,,,",
        ),
    )


def test_import_prints_a_summary_and_exits_zero(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    result = runner.invoke(args=args(small_roster(tmp_path)))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["文件", "读取", "新增", "更新", "未变", "错误"]
    assert lines[3].split() == ["患者", "(patients.csv)", "3", "3", "0", "0", "0"]
    assert lines[-1] == "导入完成：新增9行，更新0行。"
    assert result.stderr == ""
    assert count(db, Patient) == 3

    again = runner.invoke(args=args(small_roster(tmp_path)))
    assert again.exit_code == 0
    assert again.stdout.splitlines()[3].split()[2:] == ["3", "0", "0", "3", "0"]


def test_bad_rows_are_listed_on_stderr_and_nothing_is_written(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    result = runner.invoke(args=args(bad_roster(tmp_path)))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors == [
        "patients.csv 第5行，“phone”列：电话号码无效：139****0001。"
        "请填写11位手机号，或以 +86 开头的号码。",
        "patients.csv 第6行，“conditions”列：无法识别的慢病“感冒”。可用：hypertension (高血压), "
        "diabetes (糖尿病), coronary_heart_disease (冠心病), stroke (脑卒中), copd (慢阻肺), "
        "chronic_kidney_disease (慢性肾病), heart_failure (心力衰竭), asthma (哮喘)",
        "patients.csv 第6行，“facility_code”列：找不到机构 V9：机构文件和数据库中都没有。",
    ]
    assert "1390000001" not in result.output
    assert result.stdout.splitlines()[-1].startswith("有2个错误行，没有写入任何数据。")
    assert count(db, Facility) == count(db, Patient) == count(db, AuditEntry) == 0


def test_skip_bad_rows_imports_the_rest_and_exits_zero(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    result = runner.invoke(args=args(bad_roster(tmp_path), "--skip-bad-rows"))
    assert result.exit_code == 0
    assert len(result.stderr.splitlines()) == 3
    assert "已跳过2个错误行" in result.stdout
    assert count(db, Patient) == 3 and count(db, Facility) == 4


def test_dry_run_writes_nothing_and_fails_only_on_bad_rows(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    clean = runner.invoke(args=args(small_roster(tmp_path), "--dry-run"))
    assert clean.exit_code == 0
    assert clean.stdout.splitlines()[3].split()[2:] == ["3", "3", "0", "0", "0"]
    assert clean.stdout.splitlines()[-1].startswith("试运行")

    bad = tmp_path / "bad"
    bad.mkdir()
    dirty = runner.invoke(args=args(bad_roster(bad), "--dry-run", "--skip-bad-rows"))
    assert dirty.exit_code == 1
    assert len(dirty.stderr.splitlines()) == 3
    assert count(db, Facility) == count(db, Patient) == count(db, AuditEntry) == 0


def test_a_file_error_names_the_file_and_the_missing_column(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    doctors = csv_file(tmp_path, "村医.csv", "编码,姓名,所属机构", "D1,王医生,V1")
    result = runner.invoke(args=["roster", "import", "--doctors", str(doctors), "--skip-bad-rows"])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("村医.csv 第1行：缺少必需的列“phone”。可用的列名：phone, mobile, 电话")
    assert result.stdout.splitlines()[-1] == "有文件无法读取，没有写入任何数据。"


def test_a_gb18030_file_gets_a_notice(runner: FlaskCliRunner, tmp_path: Path) -> None:
    files = small_roster(tmp_path, patients=None)
    patients = csv_file(
        tmp_path,
        "patients.csv",
        "编码,姓名,电话,所属机构,慢病",
        "P1,张秀英,13900000011,V1,高血压",
        encoding="gb18030",
    )
    result = runner.invoke(args=[*args(files), "--patients", str(patients)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "patients.csv：不是 UTF-8 编码，已按 GB18030（GBK）读取。"
        "如有乱码，请在 Excel 中另存为“CSV UTF-8”。"
    ]


def test_no_files_is_a_usage_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["roster", "import"])
    assert result.exit_code == 2
    assert "--facilities" in result.stderr


@pytest.fixture
def english_runner(database_url: str) -> Iterator[FlaskCliRunner]:
    app: Flask = make_app(database_url, default_language="en")
    yield app.test_cli_runner()
    empty_all_tables(database_of(app))
    database_of(app).dispose()


def test_messages_follow_the_default_language(
    english_runner: FlaskCliRunner, tmp_path: Path
) -> None:
    files = small_roster(tmp_path, patients=(PATIENTS_HEADER, "P1,Mary,,V1,flu,,,"))
    result = english_runner.invoke(args=args(files))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'patients.csv line 2, column "conditions": unknown condition "flu".'
    )
    assert result.stdout.splitlines()[0].split() == [
        "file",
        "read",
        "created",
        "updated",
        "unchanged",
        "bad",
    ]


def test_a_database_error_rolls_everything_back(
    runner: FlaskCliRunner, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_audit(*_args: object) -> None:
        raise IntegrityError("INSERT", {}, Exception("duplicate key: phone +8613900000011"))

    monkeypatch.setattr(roster_import, "_audit", failing_audit)
    result = runner.invoke(args=args(small_roster(tmp_path)))
    assert result.exit_code == 1
    assert result.stderr.startswith("数据库出错，没有保存任何改动：")
    assert "13900000011" not in result.stderr and "+86139****0011" in result.stderr
    assert count(db, Facility) == count(db, Patient) == 0


def test_a_patients_file_as_excel_saves_it_imports(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    """Title row, BOM, CRLF, header with spaces, trailing empty columns and a blank last
    line, quoted cells with commas and line breaks, the values county offices type."""
    files = small_roster(tmp_path, patients=None)
    lines = [
        "介休市慢性病患者花名册,,,,,,,,,,",
        " 档案编号 ,姓名,联系电话,所属机构,慢病种类,出生日期,性别,是否志愿者,,,",
        'P1,"张秀英, 大",+86 139-0000-0011,V1,"高血压\n2型糖尿病",1952/4/1,女性,√,,,',
        "P2,李建国,0086 13900000012,V1,高血压 冠心病,1948年,男性,×,,,",
        "P3,王桂兰,86 139 0000 0013,V2,脑梗死、慢阻肺,1960-01-15 0:00:00,2,,,,",
        ",,,,,,,,,,",
        "",
    ]
    patients = tmp_path / "patients.csv"
    patients.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))

    result = runner.invoke(args=[*args(files), "--patients", str(patients)])

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["patients.csv：第1行在表头上方，是标题，已跳过。"]
    with db.unit_of_work() as session:
        stored = {
            p.code: (p.name, p.phone, p.conditions, p.birth_year, p.sex, p.volunteer)
            for p in session.scalars(select(Patient))
        }
    assert stored == {
        "P1": ("张秀英, 大", "+8613900000011", ["hypertension", "diabetes"], 1952, "F", True),
        "P2": (
            "李建国",
            "+8613900000012",
            ["hypertension", "coronary_heart_disease"],
            1948,
            "M",
            False,
        ),
        "P3": ("王桂兰", "+8613900000013", ["stroke", "copd"], 1960, "F", False),
    }


def test_a_shifted_row_and_a_landline_are_reported_masked_in_english(
    english_runner: FlaskCliRunner, tmp_path: Path
) -> None:
    files = small_roster(
        tmp_path,
        patients=(
            PATIENTS_HEADER,
            "P1,Mary,Jones,13900000011,V1,flu,1950,F,y",
            "P2,John,0354-7221234,V1,HTN,1950,M,n",
        ),
    )
    result = english_runner.invoke(args=args(files))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "patients.csv line 2: this row has 9 values but the header has only 8 columns: a value "
        "probably contains a comma. Put that value in double quotes, or remove the comma.",
        'patients.csv line 3, column "phone": +86354****1234 is a landline and cannot receive '
        "SMS. Give a mobile number (leave it empty for a patient without a mobile).",
    ]


def test_a_landline_duty_phone_is_imported_with_a_warning_naming_the_row(
    runner: FlaskCliRunner, db: Database, tmp_path: Path
) -> None:
    from tests.support.roster_files import FACILITIES

    files = small_roster(
        tmp_path, facilities=(*FACILITIES, "T2,连福镇卫生院,township_center,C1,0354-7221234")
    )
    result = runner.invoke(args=args(files))
    assert result.exit_code == 0, result.output
    [warning] = result.stderr.splitlines()
    assert warning.startswith("facilities.csv 第6行：值班电话 +86354****1234 是固定电话")
    assert "7221234" not in result.output
    assert count(db, Facility) == 5
