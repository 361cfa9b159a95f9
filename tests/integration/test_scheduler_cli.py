"""`exchanges plan|set` and `scheduler jobs|run-once` as an administrator runs them."""

from __future__ import annotations

import json
from datetime import time

from sqlalchemy import select

from grids.exchanges.models import DoctorVisit
from grids.models import Grid
from scheduling.registry import JOB_IDS
from tests.support import factories


def _two_grids(session):
    tree = factories.facility_tree(session)
    first = factories.grid_with_members(session, tree["clinic_a"], size=3, code="A-HTN01")
    second = factories.grid_with_members(session, tree["clinic_a"], size=3, code="A-HTN02")
    second.grid.doctor_id = first.grid.doctor_id
    session.commit()
    return tree, first, second


def test_plan_dry_run_then_stored(runner, session) -> None:
    tree, _, _ = _two_grids(session)
    result = runner.invoke(args=["exchanges", "plan", "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert [(s["grid_code"], s["start"], s["venue"]) for s in plan["slots"]] == [
        ("A-HTN01", "19:00", "东村卫生室"),
        ("A-HTN02", "19:00", "东村卫生室"),
    ]
    assert plan["slots"][0]["weekday"] != plan["slots"][1]["weekday"]
    assert {v["grid_code"] for v in plan["rota"]} == {"A-HTN01", "A-HTN02"}
    assert plan["unplaced"] == []
    session.expire_all()
    assert session.scalar(select(Grid.exchange_weekday).where(Grid.code == "A-HTN01")) is None

    result = runner.invoke(args=["exchanges", "plan", "--facility", tree["township"].code])
    assert result.exit_code == 0, result.output
    assert "已安排2个网格" in result.output
    session.expire_all()
    assert session.scalar(select(Grid.exchange_time).where(Grid.code == "A-HTN01")) == time(19)
    assert len(session.scalars(select(DoctorVisit)).all()) == 2


def test_set_is_refused_on_a_taken_venue_or_in_quiet_hours(runner, session) -> None:
    _two_grids(session)
    ok = runner.invoke(args=["exchanges", "set", "A-HTN01", "--weekday", "3", "--time", "19:00"])
    assert ok.exit_code == 0 and "A-HTN01" in ok.output
    taken = runner.invoke(args=["exchanges", "set", "A-HTN02", "--weekday", "3", "--time", "19:30"])
    assert taken.exit_code == 1 and "A-HTN01" in taken.output
    quiet = runner.invoke(args=["exchanges", "set", "A-HTN02", "--weekday", "3", "--time", "20:30"])
    assert quiet.exit_code == 1 and "免打扰" in quiet.output
    elsewhere = runner.invoke(
        args=[
            "exchanges",
            "set",
            "A-HTN02",
            "--weekday",
            "3",
            "--time",
            "19:00",
            "--venue",
            "村委会",
        ]
    )
    assert elsewhere.exit_code == 0, elsewhere.output
    unknown = runner.invoke(args=["exchanges", "set", "NOPE", "--weekday", "3", "--time", "9:00"])
    assert unknown.exit_code == 1 and "NOPE" in unknown.output


def test_jobs_lists_every_job_and_run_once_runs_a_slot_once(runner, session) -> None:
    result = runner.invoke(args=["scheduler", "jobs", "--format", "json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)["items"]
    assert [item["id"] for item in items] == list(JOB_IDS)
    assert all({"id", "schedule", "next_run", "last_run"} <= set(item) for item in items)
    digest = next(item for item in items if item["id"] == "doctor-digest")
    assert digest["note"] and "nothing queued" in digest["note"]

    at = "2026-12-06T18:00+08:00"
    first = runner.invoke(args=["scheduler", "run-once", "report-prompts", "--at", at])
    assert first.exit_code == 0 and "queued" in first.output
    again = runner.invoke(args=["scheduler", "run-once", "report-prompts", "--at", at])
    assert again.exit_code == 0 and "已运行过" in again.output
    listed = json.loads(runner.invoke(args=["scheduler", "jobs", "--format", "json"]).output)
    last = next(item for item in listed["items"] if item["id"] == "report-prompts")
    assert last["last_run"] == "2026-12-06T10:00:00+00:00"
    unknown = runner.invoke(args=["scheduler", "run-once", "nope"])
    assert unknown.exit_code == 1 and "exchange-reminders" in unknown.output
