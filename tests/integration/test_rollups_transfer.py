"""`rollups export` in a province and `rollups import` in a national instance: the same
documents, counts only, all items or none."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from grids.rollups.models import RollupSnapshot
from grids.storage import migrate
from grids.storage.session import database_of
from tests.support import rollup_fixture as fx
from tests.support.app import make_app
from tests.support.postgres import create_postgres_database, drop_postgres_database

AT = "2026-12-01T10:00:00"


@pytest.fixture
def county(session):
    built = fx.build(session)
    fx.add_messages(session, built)
    session.commit()
    return built


@pytest.fixture
def nation(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A second deployment with a database of its own and no grids."""
    if database_url.startswith("postgresql"):
        name = f"huzhu_nation_{os.getpid()}"
        url = create_postgres_database(database_url, name)
    else:
        name, url = "", f"sqlite:///{tmp_path / 'nation.db'}"
    migrate.upgrade(url)
    application = make_app(url)
    yield application
    database_of(application).dispose()
    if name:
        drop_postgres_database(database_url, name)


def export(runner, *extra: str):
    return runner.invoke(
        args=["rollups", "export", "--level", "county", "--week", fx.WEEK, "--at", AT, *extra]
    )


def show(runner, code: str) -> dict:
    result = runner.invoke(
        args=[
            *("rollups", "show", "--level", "county", "--code", code, "--week", fx.WEEK),
            *("--format", "json", "--at", AT),
        ]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def snapshot_count(app: Flask) -> int:
    with database_of(app).unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(RollupSnapshot)) or 0


def test_a_nation_answers_the_province_county_document(runner, county, nation, tmp_path) -> None:
    local = show(runner, "RC")
    result = export(runner, "--output", str(tmp_path / "w48.json"))
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "w48.json").read_text(encoding="utf-8"))
    assert payload["format"] == "huzhu-rollups" and payload["week"] == fx.WEEK
    [item] = payload["items"]
    assert item["code"] == "RC" and item["indicators"] == local["indicators"]
    assert item["indicators"]["members"] == local["indicators"]["members"] > 0
    # Counts only: no member's code, phone or name crosses the border.
    text = json.dumps(payload, ensure_ascii=False)
    for patient in county.patients.values():
        assert patient.code not in text and patient.phone not in text
        assert patient.name not in text

    national = nation.test_cli_runner()
    imported = national.invoke(args=["rollups", "import", str(tmp_path / "w48.json")])
    assert imported.exit_code == 0, imported.output
    assert "1" in imported.output
    answered = show(national, "RC")
    assert answered["indicators"] == local["indicators"]
    assert answered["provisional"] is False and answered["as_of"] == item["as_of"]

    again = national.invoke(args=["rollups", "import", str(tmp_path / "w48.json")])
    assert again.exit_code == 0 and snapshot_count(nation) == 1
    item["indicators"]["members"] += 1
    (tmp_path / "late.json").write_text(json.dumps(payload), encoding="utf-8")
    revised = national.invoke(args=["rollups", "import", str(tmp_path / "late.json")])
    assert revised.exit_code == 0
    assert show(national, "RC")["indicators"]["members"] == local["indicators"]["members"] + 1
    assert show(national, "RC")["revised"] is True


def test_export_goes_to_standard_output_and_refuses_an_open_week(runner, county) -> None:
    result = export(runner)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["items"][0]["code"] == "RC"
    open_week = runner.invoke(args=["rollups", "export", "--week", "2026-W49", "--at", AT])
    assert open_week.exit_code == 1 and "2026-W49" in open_week.output
    assert "Traceback" not in open_week.output


# DESIGN §5's first document: the indicators every document carries.
FIRST_INDICATORS = {
    **{"members": 18, "grids": 1, "grids_reported": 1},
    **{"members_stable": 15, "members_with_reading": 3, "members_flagged": 1},
    **{"members_no_news_2w": 2, "htn_denominator": 17, "bp_controlled": 11},
    **{"bp_uncontrolled": 5, "bp_missed": 1, "lost_to_follow_up": 0, "dm_denominator": 0},
    **{"glucose_controlled": 0, "glucose_uncontrolled": 0, "glucose_missed": 0},
    **{"exchanges_held": 1, "attendance": 14, "urgent": 1, "urgent_ack_median_s": 540},
    **{"urgent_ack_max_s": 540, "urgent_past_doctor": 0, "urgent_open": 0},
    **{"red": 2, "yellow": 6, "green": 10, "hospitalisations": 1, "deaths": 0},
    "avg_age_at_death": None,
}


def good_payload() -> dict:
    indicators = {**FIRST_INDICATORS, "outcomes": {"home": 1}}
    item = {
        "level": "county",
        "code": "140781",
        "week": fx.WEEK,
        "as_of": "2026-11-30T02:00:00+00:00",
        "provisional": False,
        "indicators": indicators,
    }
    return {"format": "huzhu-rollups", "version": 1, "items": [item]}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda p: p["items"][1].update(week="2027-W53"), "2027-W53"),
        (lambda p: p["items"][1]["indicators"].update(members=-3), "indicators.members"),
        (lambda p: p["items"][1]["indicators"].pop("red"), "indicators.red"),
        (lambda p: p["items"][1]["indicators"].pop("members"), "indicators.members"),
        (lambda p: p["items"][1]["indicators"].update(grids="1"), "indicators.grids"),
        (lambda p: p["items"][1].update(provisional=True), "provisional"),
        (lambda p: p["items"][1].update(as_of="yesterday"), "as_of"),
        (lambda p: p["items"][1]["indicators"].update(outcomes={"cured": 1}), "outcomes"),
        (lambda p: p["items"][1].update(code="140781"), "140781"),
        (lambda p: p["items"][1].update(code="RC"), "RC"),
        (lambda p: p.update(format="csv"), "huzhu-rollups"),
    ],
)
def test_a_bad_file_is_refused_whole_with_the_item_and_field(
    runner, county, tmp_path, change, said
) -> None:
    payload = good_payload()
    second = json.loads(json.dumps(payload["items"][0]))
    second["code"] = "140782"
    payload["items"].append(second)
    change(payload)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    before = snapshot_count(runner.app)
    result = runner.invoke(args=["rollups", "import", str(path)])
    assert result.exit_code == 1
    assert said in result.output and "Traceback" not in result.output
    assert snapshot_count(runner.app) == before  # the good first item was not stored either


def test_a_file_that_is_not_json_says_so(runner, tmp_path) -> None:
    path = tmp_path / "w48.json"
    path.write_bytes(b"\xff\xfegrid,week\n")
    result = runner.invoke(args=["rollups", "import", str(path)])
    assert result.exit_code == 1 and "JSON" in result.output


def test_a_document_missing_an_indicator_is_refused_and_stores_nothing(
    runner, county, nation, tmp_path
) -> None:
    assert export(runner, "--output", str(tmp_path / "w48.json")).exit_code == 0
    payload = json.loads((tmp_path / "w48.json").read_text(encoding="utf-8"))
    del payload["items"][0]["indicators"]["red"]
    del payload["items"][0]["indicators"]["urgent_ack_max_s"]
    (tmp_path / "cut.json").write_text(json.dumps(payload), encoding="utf-8")
    national = nation.test_cli_runner()
    result = national.invoke(args=["rollups", "import", str(tmp_path / "cut.json")])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "indicators.urgent_ack_max_s, indicators.red" in line
    assert "rollups export" in line and "Traceback" not in result.output
    assert snapshot_count(nation) == 0


def test_an_older_document_and_one_with_more_fields_import(
    runner, county, nation, tmp_path
) -> None:
    """Fields are added, never renamed: a document from before the added indicators
    imports with them null, and one with fields this release does not know imports too."""
    older = good_payload()
    older["items"][0]["indicators"] = dict(FIRST_INDICATORS)
    newer = good_payload()
    newer["items"][0].update(code="140782")
    newer["items"][0]["indicators"]["coming_later"] = 3
    national = nation.test_cli_runner()
    for name, payload in (("older.json", older), ("newer.json", newer)):
        (tmp_path / name).write_text(json.dumps(payload), encoding="utf-8")
        result = national.invoke(args=["rollups", "import", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    answered = show(national, "140781")["indicators"]
    assert answered["red"] == 2 and answered["members"] == 18
    assert answered["followups_done"] is None and answered["outcomes"] is None
    assert answered["critical"] is None
