"""`flask admin ...`: preview, apply, log, undo, and the errors a person can make."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.models import ChangeSet, Grid
from notifications.models import OutboxMessage
from tests.support.accounts import make_user
from tests.support.admin import County, county


@pytest.fixture
def c(session: Session) -> County:
    built = county(session)
    make_user(session, "bureau", "admin")
    make_user(session, "far", "township", facility_code="AT2")
    make_user(session, "doc", "doctor", doctor_code="DB1")
    session.commit()
    return built


def test_dry_run_json_shows_the_consequences_and_writes_nothing(runner, session, c) -> None:
    result = runner.invoke(
        args=["admin", "move-grid", "AV1-HTN01", "--doctor", "DB1", "--dry-run", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["dry_run"] is True and document["applied"] is False
    assert document["assignments"] == [{"grid": "AV1-HTN01", "from": c.d1.code, "to": "DB1"}]
    assert {s["template"] for s in document["sms"]} == {
        "sms.admin.doctor_assigned",
        "sms.admin.doctor_released",
        "sms.admin.coordinator_doctor",
    }
    assert all("****" in s["to"] for s in document["sms"])
    assert not any(re.search(r"\+86\d{11}", s["text"]) for s in document["sms"])
    assert session.scalar(select(ChangeSet.id)) is None
    assert session.scalar(select(OutboxMessage.id)) is None


def test_apply_log_and_undo(runner, session, c) -> None:
    applied = runner.invoke(
        args=["admin", "split", "AV1-HTN02", "--actor", "bureau", "--reason", "满员"]
    )
    assert applied.exit_code == 0, applied.output
    assert "AV1-HTN03" in applied.output
    log = json.loads(runner.invoke(args=["admin", "log", "--format", "json"]).output)
    [item] = log["items"]
    assert set(item) >= {"id", "at", "actor", "operation", "reason", "changes"}
    assert (item["actor"], item["operation"], item["reason"]) == ("user:bureau", "split", "满员")
    undone = runner.invoke(args=["admin", "undo", str(item["id"])])
    assert undone.exit_code == 0, undone.output
    assert session.scalar(select(Grid.id).where(Grid.code == "AV1-HTN03")) is None
    newest = json.loads(runner.invoke(args=["admin", "log", "--format", "json"]).output)["items"]
    assert [i["operation"] for i in newest] == ["undo", "split"]
    again = runner.invoke(args=["admin", "undo", str(item["id"])])
    assert again.exit_code != 0 and str(newest[0]["id"]) in again.output


def test_a_blocked_operation_exits_1_and_override_needs_a_reason(runner, c) -> None:
    blocked = runner.invoke(args=["admin", "move-grid", "AV1-HTN01", "--doctor", "DF1"])
    assert blocked.exit_code == 1
    assert "DF1" in blocked.stdout
    # A script that reads only standard error learns why, in one line.
    [why] = blocked.stderr.strip().splitlines()
    assert why.startswith("未执行 move-grid AV1-HTN01：") and "Error" not in why
    no_reason = runner.invoke(
        args=["admin", "move-grid", "AV1-HTN01", "--doctor", "DF1", "--override"]
    )
    assert no_reason.exit_code != 0 and "--reason" in no_reason.output
    overridden = runner.invoke(
        args=[
            "admin",
            "move-grid",
            "AV1-HTN01",
            "--doctor",
            "DF1",
            "--override",
            "--reason",
            "支援",
        ]
    )
    assert overridden.exit_code == 0, overridden.output


def test_actors_must_be_enabled_admin_or_township_accounts_in_scope(runner, c) -> None:
    unknown = runner.invoke(args=["admin", "split", "AV1-HTN01", "--actor", "nobody"])
    assert unknown.exit_code != 0 and "nobody" in unknown.output
    doctor = runner.invoke(args=["admin", "split", "AV1-HTN01", "--actor", "doc"])
    assert doctor.exit_code != 0 and "doc" in doctor.output
    outside = runner.invoke(args=["admin", "split", "AV1-HTN01", "--actor", "far"])
    assert outside.exit_code != 0


def test_unknown_codes_and_bad_dates_say_what_was_wrong(runner, c) -> None:
    result = runner.invoke(args=["admin", "move-member", "P-NOPE", "--grid", "AV1-HTN02"])
    assert result.exit_code != 0 and "P-NOPE" in result.output
    member = c.g1.members[3].code
    bad = runner.invoke(args=["admin", "set-status", member, "deceased", "--died-on", "28/11/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
    ok = runner.invoke(args=["admin", "set-status", member, "deceased", "--died-on", "2026-11-28"])
    assert ok.exit_code == 0, ok.output


def test_retire_with_named_doctors_and_one_grid_pinned(runner, session, c) -> None:
    result = runner.invoke(
        args=[
            "admin",
            "retire-doctor",
            c.d1.code,
            "--to",
            "DB1",
            "--to",
            "AV1-HTN02=DF1",
            "--override",
            "--reason",
            "调动",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert {a["grid"]: a["to"] for a in document["assignments"]} == {
        "AV1-HTN01": "DB1",
        "AV1-HTN02": "DF1",
    }


def test_a_new_grids_check_problem_stops_the_command_until_confirmed(runner, session, c) -> None:
    coordinator = c.g1.members[1].code
    command = ["admin", "set-status", coordinator, "moved_away"]
    blocked = runner.invoke(args=command)
    assert blocked.exit_code == 1
    assert "AV1-HTN01" in blocked.output and "set-coordinator" in blocked.output
    # Marked as a problem an override may pass, as the first line explains.
    assert any(
        line.startswith("~ ") and "set-coordinator" in line for line in blocked.output.splitlines()
    )
    assert session.scalar(select(ChangeSet.id)) is None
    confirmed = runner.invoke(args=[*command, "--override", "--reason", "搬家"])
    assert confirmed.exit_code == 0, confirmed.output
    check = runner.invoke(args=["grids", "check", "--format", "json"])
    problems = {(i["code"], i["subject"]) for i in json.loads(check.output)["items"]}
    assert ("grid_without_coordinator", "AV1-HTN01") in problems


def test_a_merge_leaves_grids_check_clean_and_undo_tells_the_members(runner, session, c) -> None:
    from tests.support import factories

    small = factories.grid_with_members(session, c.facilities["clinic_a"], size=3, code="AV1-HTN09")
    session.commit()

    def problems() -> list[dict[str, str]]:
        output = runner.invoke(args=["grids", "check", "--format", "json"]).output
        return [item for item in json.loads(output)["items"] if item["severity"] != "notice"]

    before = problems()
    merged = runner.invoke(args=["admin", "merge", "AV1-HTN01", "AV1-HTN09", "--format", "json"])
    assert merged.exit_code == 0, merged.output
    assert problems() == before
    change_set = json.loads(merged.output)["change_set"]
    undone = runner.invoke(args=["admin", "undo", str(change_set)])
    assert undone.exit_code == 0, undone.output
    phones = set(
        session.scalars(
            select(OutboxMessage.to_phone).where(
                OutboxMessage.template == "sms.admin.member_moved",
                OutboxMessage.idempotency_key.like(f"admin:{change_set + 1}:%"),
            )
        )
    )
    assert phones == {small.members[2].phone, small.members[3].phone}
