"""`escalations advance|list|close`, `sms receive --at`, `grids check` and the JSON API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from grids.escalation.models import Escalation
from grids.models import AuditEntry, Grid
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.accounts import bearer, make_user, token_for


def open_case(runner, session):
    tree = factories.facility_tree(session)
    fixture = factories.grid_with_members(session, tree["clinic_a"], size=6, code="G-ESC")
    session.commit()
    result = runner.invoke(
        args=[
            "sms",
            "receive",
            "--coordinator-of",
            "G-ESC",
            "--at",
            "2026-11-26T10:00:00+08:00",
            "急 4 头晕",
        ]
    )
    assert result.exit_code == 0, result.output
    return tree, fixture, session.scalars(select(Escalation)).one()


def test_an_incident_replayed_on_the_command_line(runner, session) -> None:
    tree, fixture, case = open_case(runner, session)
    assert case.opened_at == datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    # The doctor's SMS was never sent: 5 minutes after queuing the township is told.
    result = runner.invoke(args=["escalations", "advance", "--at", "2026-11-26T10:06:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "推进了1个紧急报告" in result.output
    township = session.scalars(
        select(OutboxMessage).where(OutboxMessage.to_phone == tree["township"].phone)
    ).all()
    assert [row.template for row in township] == ["sms.urgent.escalated"]

    listed = runner.invoke(args=["escalations", "list", "--open", "--format", "json"])
    [item] = json.loads(listed.output)["items"]
    assert (item["code"], item["grid_code"], item["seat"], item["state"]) == (
        case.code,
        "G-ESC",
        4,
        "open",
    )
    kinds = [event["kind"] for event in item["events"]]
    assert kinds == ["opened", "notified", "escalated", "notified"]
    assert (
        item["events"][1]["recipient"]
        == fixture.doctor.phone[:6] + "****" + fixture.doctor.phone[-4:]
    )
    assert fixture.doctor.phone not in listed.output
    assert item["events"][1]["channel"] == "sms"

    closed = runner.invoke(
        args=["escalations", "close", case.code.lower(), "--reason", "handled by phone"]
    )
    assert closed.exit_code == 0, closed.output
    session.expire_all()
    assert session.get(Escalation, case.id).state == "closed"
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "escalation.close"))
    assert (entry.entity_code, entry.reason) == (case.code, "handled by phone")
    again = runner.invoke(args=["escalations", "close", case.code, "--reason", "twice"])
    assert again.exit_code == 1 and "closed" in again.output
    unknown = runner.invoke(args=["escalations", "close", "ZZZ", "--reason", "x"])
    assert unknown.exit_code == 1 and "没有编号为ZZZ的紧急报告" in unknown.output
    table = runner.invoke(args=["escalations", "list"])
    assert case.code in table.output and "closed" in table.output


def test_a_bad_clock_time_is_refused(runner, session) -> None:
    result = runner.invoke(args=["escalations", "advance", "--at", "yesterday"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "--at yesterday 不是ISO时间，例：2026-12-06T18:00（本县时间）或 2026-12-06T18:00:00+08:00"
    )


def test_grids_check_lists_every_problem_and_fails(runner, session) -> None:
    tree = factories.facility_tree(session)
    factories.grid_with_members(session, tree["clinic_a"], size=4, code="G-OK")
    orphan = factories.grid_with_members(
        session, tree["clinic_b"], size=4, with_doctor=False, code="G-ORPHAN"
    )
    orphan.grid.coordinator_id = None
    tree["township"].phone = None
    session.commit()
    result = runner.invoke(args=["grids", "check", "--format", "json"])
    assert result.exit_code == 1
    items = [i for i in json.loads(result.output)["items"] if i["severity"] != "notice"]
    assert {(item["code"], item["subject"]) for item in items} == {
        ("facility_without_phone", tree["township"].code),
        ("grid_without_doctor", "G-ORPHAN"),
        ("grid_without_coordinator", "G-ORPHAN"),
        # Clinic B has no doctor and its township no phone: only the county is left.
        ("short_ladder", tree["clinic_b"].code),
    }
    assert all(item["severity"] == "error" and item["message"] for item in items)
    assert "网格G-ORPHAN没有村医。" in {item["message"] for item in items}


def test_grids_check_passes_a_sound_county(runner, session) -> None:
    tree = factories.facility_tree(session)
    factories.grid_with_members(session, tree["clinic_a"], size=4)
    factories.grid_with_members(session, tree["clinic_b"], size=4)
    session.commit()
    result = runner.invoke(args=["grids", "check"])
    # Grids with a coordinator but no deputy are listed as notices, which do not fail.
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "没有发现问题。"
    assert "提示2条（不影响检查结果）。" in result.output


def test_the_api_needs_a_token_and_lists_escalations(client, runner, session) -> None:
    _tree, _fixture, case = open_case(runner, session)
    anonymous = client.get("/api/v1/escalations")
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "unauthorized"
    assert client.get(f"/api/v1/escalations/{case.code}").status_code == 401

    make_user(session, "bureau", "admin")
    auth = bearer(token_for(session, "bureau"))
    session.commit()
    assert client.get("/api/v1/escalations", headers=bearer("not-a-token")).status_code == 401

    listed = client.get("/api/v1/escalations?open=1", headers=auth)
    assert listed.status_code == 200
    [item] = listed.get_json()["items"]
    assert (item["code"], item["state"], item["grid_code"]) == (case.code, "open", "G-ESC")
    one = client.get(f"/api/v1/escalations/{case.code}", headers=auth).get_json()
    assert one == item
    missing = client.get("/api/v1/escalations/ZZZ", headers=auth)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["message"] == "没有编号为ZZZ的紧急报告。"
    assert session.scalars(select(Grid)).first() is not None

    other = factories.doctor(session, _tree["clinic_b"], code="D-OTHER")
    make_user(session, "other", "doctor", doctor_code=other.code)
    own = session.get_one(Grid, _fixture.grid.id).doctor
    assert own is not None
    make_user(session, "own", "doctor", doctor_code=own.code)
    outsider = bearer(token_for(session, "other"))
    insider = bearer(token_for(session, "own"))
    session.commit()
    assert client.get("/api/v1/escalations", headers=outsider).get_json()["items"] == []
    assert client.get(f"/api/v1/escalations/{case.code}", headers=outsider).status_code == 403
    assert client.get(f"/api/v1/escalations/{case.code}", headers=insider).get_json() == item


def test_the_openapi_document_describes_the_escalation_api(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert {"/api/v1/escalations", "/api/v1/escalations/{code}", "/voice/twilio/gather"} <= set(
        document["paths"]
    )
    assert "Escalation" in document["components"]["schemas"]


def test_another_doctors_case_and_a_missing_code_answer_alike(client, runner, session) -> None:
    tree, _fixture, case = open_case(runner, session)
    other = factories.doctor(session, tree["clinic_b"], code="D-OTHER")
    make_user(session, "other", "doctor", doctor_code=other.code)
    outsider = bearer(token_for(session, "other"))
    session.commit()
    theirs = client.get(f"/api/v1/escalations/{case.code}", headers=outsider)
    missing = client.get("/api/v1/escalations/ZZZ", headers=outsider)
    assert theirs.status_code == missing.status_code == 403
    assert theirs.get_json() == missing.get_json()


@pytest.mark.parametrize("reason", ["", "   "])
def test_closing_needs_a_reason(runner, session, reason: str) -> None:
    _tree, _fixture, case = open_case(runner, session)
    refused = runner.invoke(args=["escalations", "close", case.code, "--reason", reason])
    assert refused.exit_code == 1
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert "--reason" in line and "Traceback" not in line
    session.expire_all()
    assert session.get(Escalation, case.id).state == "open"
