"""`followups export`: a quarter in the national layout, for a doctor, township or county."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from grids.followups import rules
from grids.followups.export import headers
from grids.models import Membership
from tests.support import factories
from tests.support.accounts import make_user

NATIONAL = [
    "随访日期", "随访方式", "症状", "收缩压", "舒张压", "体重", "体质指数", "心率", "空腹血糖值",
    "日吸烟量", "日饮酒量", "运动", "摄盐情况", "服药依从性", "药物不良反应", "此次随访分类",
    "用药情况", "转诊原因", "转诊机构及科别", "下次随访日期", "随访医生",
]  # fmt: skip


@pytest.fixture
def county(session, runner):
    tree = factories.facility_tree(session, prefix="E")
    grid = factories.grid_with_members(session, tree["clinic_a"], size=3, code="EX-G1")
    other = factories.grid_with_members(session, tree["clinic_b"], size=2, code="EX-G2")
    for membership in session.scalars(select(Membership)):
        membership.joined_at = datetime(2026, 6, 1, tzinfo=UTC)
    grid.members[2].name = "=HYPERLINK(1)"
    make_user(session, "admin1", "admin")
    session.commit()
    for member, day, extra in (
        (grid.members[2], "2027-01-10", ["--bp", "150/95", "--weight", "70", "--height", "170"]),
        (grid.members[3], "2027-03-31", ["--glucose", "7.8", "--classification", "controlled"]),
        (grid.members[3], "2026-12-31", []),
        (other.members[2], "2027-02-01", ["--adherence", "regular"]),
    ):
        result = runner.invoke(
            args=[
                "followups", "record", "--member", member.code, "--date", day,
                "--method", "exchange", "--actor", "admin1", "--at", "2027-04-02T10:00:00",
                *extra,
            ]
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return {"grid": grid, "other": other, "tree": tree}


def _csv(runner, *args: str) -> list[list[str]]:
    result = runner.invoke(
        args=["followups", "export", "--quarter", "2027-Q1", "--format", "csv", *args]
    )
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))


def test_the_header_is_the_national_record(runner, county) -> None:
    table = _csv(runner, "--county")
    assert table[0] == ["成员编号", "姓名", "网格编号", *NATIONAL] == headers()
    assert len(table) == 4  # the December follow-up is in another quarter
    first = dict(zip(table[0], table[1], strict=True))
    assert first["随访日期"] == "2027-01-10" and first["随访方式"] == "门诊（网格交流会）"
    assert (first["收缩压"], first["舒张压"], first["体质指数"]) == ("150", "95", "24.2")
    assert first["姓名"] == "'=HYPERLINK(1)"
    assert first["下次随访日期"] == "2027-04-10" and first["网格编号"] == "EX-G1"
    assert first["随访医生"] == county["grid"].doctor.name


def test_a_doctor_and_a_township_get_their_own(runner, county) -> None:
    mine = _csv(runner, "--doctor", county["grid"].doctor.code)
    assert [row[2] for row in mine[1:]] == ["EX-G1", "EX-G1"]
    township = _csv(runner, "--township", county["tree"]["township"].code)
    assert len(township) == 4


def test_xlsx_to_a_file_writes_formulas_as_text(runner, county, tmp_path) -> None:
    path = tmp_path / "q1.xlsx"
    result = runner.invoke(
        args=[
            "followups", "export", "--quarter", "2027-Q1", "--county", "--format", "xlsx",
            "--output", str(path),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(path) as book:
        strings = book.read("xl/sharedStrings.xml").decode("utf-8")
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "此次随访分类" in strings and "=HYPERLINK(1)" in strings
    assert "<f>" not in sheet


def test_bad_quarters_and_subjects_are_refused(runner, county) -> None:
    bad = runner.invoke(
        args=["followups", "export", "--quarter", "2027-Q5", "--county", "--format", "csv"]
    )
    assert bad.exit_code == 1 and "2027-Q1" in bad.output
    both = runner.invoke(
        args=[
            "followups", "export", "--quarter", "2027-Q1", "--county", "--doctor", "X",
            "--format", "csv",
        ]
    )  # fmt: skip
    assert both.exit_code == 1
    assert rules.quarter_bounds("2027-Q1")[1].isoformat() == "2027-03-31"
