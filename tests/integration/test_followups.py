"""Recording follow-ups (CLI and API) and the due lists, on a pinned clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from grids.escalation.models import Escalation
from grids.followups.models import Followup
from grids.models import Membership
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.accounts import bearer, make_user, token_for

# Friday 15 January 2027, 10:00 in the county.
AT = "2027-01-15T10:00:00+08:00"
INSTANT = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)


@pytest.fixture
def county(session):
    tree = factories.facility_tree(session, prefix="F")
    grid = factories.grid_with_members(session, tree["clinic_a"], size=6, code="FU-G1")
    other = factories.grid_with_members(session, tree["clinic_b"], size=3, code="FU-G2")
    joined = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    for membership in session.scalars(select(Membership)):
        membership.joined_at = joined
    assert grid.doctor is not None and other.doctor is not None
    make_user(session, "wang", "doctor", doctor_code=grid.doctor.code)
    make_user(session, "li", "doctor", doctor_code=other.doctor.code)
    make_user(session, "town", "township", facility_code=tree["township"].code)
    session.commit()
    return {"grid": grid, "other": other, "tree": tree}


def _record(runner, member: str, *extra: str, actor: str = "wang"):
    return runner.invoke(
        args=[
            "followups",
            "record",
            "--member",
            member,
            "--actor",
            actor,
            "--at",
            AT,
            "--format",
            "json",
            *extra,
        ]
    )


def test_each_classification_sets_the_next_date(runner, county, session) -> None:
    members = county["grid"].members
    cases = [
        (members[2].code, "controlled", "2027-04-14", "routine"),
        (members[3].code, "uncontrolled", "2027-01-28", "recheck"),
        (members[4].code, "adverse", "2027-01-28", "recheck"),
        (members[5].code, "complication", "2027-01-28", "recheck"),
    ]
    for code, classification, expected, reason in cases:
        result = _record(
            runner,
            code,
            "--date",
            "2027-01-14",
            "--method",
            "exchange",
            "--bp",
            "150/95",
            "--classification",
            classification,
        )
        assert result.exit_code == 0, result.output
        doc = json.loads(result.output)
        assert (doc["next_due"], doc["next_due_reason"]) == (expected, reason)
    referred = _record(
        runner,
        members[6].code,
        "--date",
        "2027-01-14",
        "--method",
        "home",
        "--classification",
        "controlled",
        "--referral",
        "血压控制不佳",
        "--weight",
        "70",
        "--height",
        "170",
    )
    doc = json.loads(referred.output)
    assert (doc["next_due"], doc["next_due_reason"], doc["bmi"]) == (
        "2027-01-28",
        "referral",
        "24.2",
    )
    chosen = _record(
        runner,
        members[1].code,
        "--date",
        "2027-01-14",
        "--method",
        "clinic",
        "--next",
        "2027-02-01",
    )
    assert json.loads(chosen.output)["next_due_reason"] == "set"


def test_bad_values_name_the_field_and_write_nothing(runner, county, session) -> None:
    code = county["grid"].members[2].code
    result = _record(
        runner, code, "--date", "2027-01-16", "--method", "clinic", "--heart-rate", "400"
    )
    assert result.exit_code == 1
    assert "--date" in result.output and "--heart-rate" in result.output
    assert "30" in result.output and "220" in result.output
    bad_bp = _record(runner, code, "--date", "2027-01-14", "--method", "clinic", "--bp", "90/150")
    assert bad_bp.exit_code == 1 and "150/95" in bad_bp.output
    session.expire_all()
    assert session.scalar(select(Followup.id)) is None


def test_every_bad_value_is_reported_at_once_under_its_option(runner, county, session) -> None:
    code = county["grid"].members[2].code
    result = _record(
        runner,
        code,
        *("--date", "2027-12-09", "--method", "exchange"),
        *("--bp", "400/95", "--glucose", "50", "--weight", "abc", "--next", "2027-12-01"),
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split("：")[0] for line in lines] == [
        "--date",
        "--bp",
        "--weight",
        "--glucose",
        "--next",
    ], result.stderr
    assert "2027-01-15" in lines[0] and "400/95" in lines[1] and "abc" in lines[2]
    assert "40.0" in lines[3] and "2027-12-09" in lines[4]
    glucose = _record(runner, code, "--date", "2027-01-14", "--method", "clinic", "--glucose", "50")
    assert glucose.exit_code == 1
    assert glucose.stderr.strip().startswith("--glucose：")
    assert "--glucose-mmol" not in glucose.stderr
    session.expire_all()
    assert session.scalar(select(Followup.id)) is None


def test_a_doctor_records_only_for_his_own_members(runner, county, session) -> None:
    theirs = county["other"].members[2].code
    refused = _record(runner, theirs, "--date", "2027-01-14", "--method", "clinic")
    assert refused.exit_code == 1 and theirs in refused.output
    allowed = _record(runner, theirs, "--date", "2027-01-14", "--method", "clinic", actor="town")
    assert allowed.exit_code == 0, allowed.output


def test_a_critical_reading_opens_a_critical_case(runner, county, session) -> None:
    member = county["grid"].members[4]
    result = _record(
        runner, member.code, "--date", "2027-01-15", "--method", "home", "--bp", "185/115"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    session.expire_all()
    case = session.scalar(select(Escalation))
    assert case is not None and case.kind == "critical" and case.seat == 4
    assert doc["critical_cases"] == [case.code]
    doctor_phone = factories.phone_of(county["grid"].doctor)
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.to_phone == doctor_phone))


def test_the_api_records_and_checks_scope(client, county, session) -> None:
    members = county["grid"].members
    token = token_for(session, "wang")
    session.commit()
    with time_machine.travel(INSTANT, tick=False):
        created = client.post(
            "/api/v1/followups",
            json={
                "member_code": members[3].code,
                "date": "2027-01-15",
                "method": "exchange",
                "systolic": 150,
                "diastolic": 95,
                "classification": "uncontrolled",
                "adherence": "intermittent",
                "medicines": [{"name": "氨氯地平", "dose": "5mg qd"}],
            },
            headers=bearer(token),
        )
        assert created.status_code == 201, created.get_json()
        assert created.get_json()["next_due"] == "2027-01-29"
        bad = client.post(
            "/api/v1/followups",
            json={"member_code": members[3].code, "date": "2027-01-15", "method": "fax"},
            headers=bearer(token),
        )
        assert bad.status_code == 400 and "method" in bad.get_json()["error"]["fields"]
        future = client.post(
            "/api/v1/followups",
            json={"member_code": members[3].code, "date": "2027-02-15", "method": "home"},
            headers=bearer(token),
        )
        assert future.status_code == 400 and "date" in future.get_json()["error"]["fields"]
        several = client.post(
            "/api/v1/followups",
            json={
                "member_code": members[3].code,
                "date": "2027-02-15",
                "method": "fax",
                "systolic": 400,
                "diastolic": 95,
                "glucose_mmol": 50,
                "next_due": "2027-02-01",
            },
            headers=bearer(token),
        )
        assert several.status_code == 400
        assert set(several.get_json()["error"]["fields"]) == {
            "method",
            "date",
            "systolic",
            "glucose_mmol",
            "next_due",
        }
        other = client.post(
            "/api/v1/followups",
            json={
                "member_code": county["other"].members[2].code,
                "date": "2027-01-15",
                "method": "home",
            },
            headers=bearer(token),
        )
        assert other.status_code == 403


def _due(runner, *args: str) -> list[dict]:
    result = runner.invoke(args=["followups", "due", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["items"]


def test_the_due_list_ranks_and_drops_members_seen(runner, county, session) -> None:
    doctor = county["grid"].doctor.code
    members = county["grid"].members
    # Joined 1 June 2026: first follow-ups due 1 September, 136 days overdue.
    items = _due(runner, "--doctor", doctor, "--at", AT)
    assert [i["member_code"] for i in items] == [members[s].code for s in range(1, 7)]
    assert items[0] == {
        "member_code": members[1].code,
        "grid_code": "FU-G1",
        "due": "2026-09-01",
        "days_overdue": 136,
        "colour": "yellow",
        "reason": "first",
    }
    _record(
        runner,
        members[2].code,
        "--date",
        "2027-01-10",
        "--method",
        "exchange",
        "--classification",
        "uncontrolled",
    )
    _record(
        runner,
        members[3].code,
        "--date",
        "2027-01-14",
        "--method",
        "clinic",
        "--classification",
        "controlled",
    )
    items = _due(runner, "--doctor", doctor, "--at", AT)
    codes = [i["member_code"] for i in items]
    assert members[3].code not in codes
    # Seen on 10 January, uncontrolled: due on the 24th, within the coming week.
    assert members[2].code not in codes
    later = _due(runner, "--doctor", doctor, "--at", "2027-01-20T10:00:00+08:00")
    mine = next(i for i in later if i["member_code"] == members[2].code)
    assert (mine["due"], mine["days_overdue"], mine["reason"]) == ("2027-01-24", -4, "recheck")


def test_the_township_sees_members_thirty_days_past_due(runner, county) -> None:
    township = county["tree"]["township"].code
    assert _due(runner, "--township", township, "--at", "2026-09-30T10:00:00+08:00") == []
    items = _due(runner, "--township", township, "--at", "2026-10-01T10:00:00+08:00")
    assert len(items) == 9 and {i["days_overdue"] for i in items} == {30}
