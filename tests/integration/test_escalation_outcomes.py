"""Every case ends with an outcome: closed by SMS (`结 K7Q 转诊`), on the command line or
by API; reminders while acknowledged and not closed; the referral follow-up on day 14."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from config.runtime import settings_of
from grids.core.vocabulary import PatientStatus
from grids.escalation.models import Escalation, EscalationEvent
from grids.models import AuditEntry, Patient
from grids.storage.session import database_of
from notifications.models import OutboxMessage
from scheduling.jobs.cases import case_followthrough
from tests.support.accounts import bearer, make_user, token_for
from tests.support.escalation import latest_case, outbox_rows, text_at, two_clinic_county

# Thursday 10 December 2026, 10:00 in Shanghai.
T0 = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


@pytest.fixture
def county(app: Flask) -> dict[str, Any]:
    return two_clinic_county(app, 8, 4)


def the_case(app: Flask) -> Escalation:
    return latest_case(app)


def timeline(app: Flask) -> list[str]:
    with database_of(app).unit_of_work() as session:
        return list(session.scalars(select(EscalationEvent.kind).order_by(EscalationEvent.id)))


def member_status(app: Flask, patient_id: int) -> PatientStatus:
    with database_of(app).unit_of_work() as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        return patient.status


def run_job(app: Flask, at: datetime) -> int:
    return case_followthrough(database_of(app), settings_of(app), at).queued


def opened_and_acknowledged(app: Flask, grid: Any) -> str:
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    code = the_case(app).code
    text_at(app, grid.doctor.phone, f"收到 {code}", hours(0.1))
    return code


@pytest.mark.parametrize(
    ("word", "outcome", "followup"),
    [
        ("在家", "home", None),
        ("转诊", "referred", date(2026, 12, 24)),
        ("住院", "admitted", date(2026, 12, 24)),
        ("死亡", "died", None),
        ("误报", "false", None),
    ],
)
def test_each_outcome_by_sms(app, county, word: str, outcome: str, followup: date | None) -> None:
    grid = county["grid"]
    code = opened_and_acknowledged(app, grid)
    reply = text_at(app, grid.doctor.phone, f"结 {code} {word}", hours(1))
    case = the_case(app)
    assert (case.state, case.outcome, case.closed_at) == ("closed", outcome, hours(1))
    assert case.closed_by == "王医生"
    assert case.followup_due == followup
    assert reply is not None and reply.startswith(f"已结案{code}")
    if followup is not None:
        assert "12-24" in reply and len(reply) <= 70
    died = member_status(app, grid.members[5].id) == PatientStatus.DECEASED
    assert died is (outcome == "died")
    assert timeline(app)[-1] == "closed"


def test_english_and_refusals(app, county) -> None:
    grid, other = county["grid"], county["other"]
    code = opened_and_acknowledged(app, grid)
    refused = text_at(app, other.doctor.phone, f"DONE {code} home", hours(1))
    assert refused is not None and code in refused
    assert "不能" in refused or "cannot" in refused  # `DONE` may be answered in English
    assert the_case(app).state == "acknowledged"
    missing = text_at(app, grid.doctor.phone, f"结 {code}", hours(1))
    assert missing is not None and "在家/转诊/住院/死亡/误报" in missing
    done = text_at(app, grid.doctor.phone, f"DONE {code} false", hours(2))
    assert done is not None and the_case(app).outcome == "false"
    again = text_at(app, grid.doctor.phone, f"结 {code} 在家", hours(3))
    assert again == f"病例{code}已结案，无需再发。"


def test_closing_an_open_case_stops_its_ladder(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    code = the_case(app).code
    text_at(app, grid.doctor.phone, f"结 {code} 误报", hours(0.01))
    assert the_case(app).state == "closed"
    pending = outbox_rows(app, OutboxMessage.to_phone == grid.doctor.phone)
    assert [row.status for row in pending if row.template == "sms.urgent.doctor"] == ["suppressed"]


def test_acknowledged_not_closed_is_reminded_daily_three_times(app, county) -> None:
    grid = county["grid"]
    code = opened_and_acknowledged(app, grid)
    assert run_job(app, hours(20)) == 0
    assert run_job(app, hours(24.2)) == 1
    assert run_job(app, hours(25)) == 0
    assert run_job(app, hours(48.2)) == 1
    assert run_job(app, hours(72.2)) == 1
    assert run_job(app, hours(96.2)) == 0
    reminders = outbox_rows(app, OutboxMessage.template == "sms.case.close_reminder")
    assert [row.to_phone for row in reminders] == [grid.doctor.phone] * 3
    assert f"结 {code}" in reminders[0].body
    assert timeline(app).count("reminded") == 3
    assert the_case(app).close_reminders == 3


def test_a_referral_is_followed_up_on_day_fourteen(app, county) -> None:
    grid = county["grid"]
    code = opened_and_acknowledged(app, grid)
    text_at(app, grid.doctor.phone, f"结 {code} 转诊", hours(1))
    assert run_job(app, hours(24 * 13)) == 0
    assert run_job(app, hours(24 * 14 - 9.9)) == 1  # 00:06 on 24 December, local
    assert run_job(app, hours(24 * 14)) == 0
    [due] = outbox_rows(app, OutboxMessage.template == "sms.case.followup_due")
    assert due.to_phone == grid.doctor.phone and f"复 {code}" in due.body
    assert run_job(app, hours(24 * 21 - 9.9)) == 1  # a week later, still not recorded
    reply = text_at(app, grid.doctor.phone, f"复 {code} 好转", hours(24 * 21))
    assert reply == f"已记录{code}转诊随访：好转。"
    case = the_case(app)
    assert (case.followup_outcome, case.followup_at) == ("better", hours(24 * 21))
    assert run_job(app, hours(24 * 28 - 9.9)) == 0
    assert timeline(app)[-1] == "followed_up"


def test_a_follow_up_reporting_death_sets_the_members_status(app, county) -> None:
    grid = county["grid"]
    code = opened_and_acknowledged(app, grid)
    text_at(app, grid.doctor.phone, f"结 {code} 住院", hours(1))
    no_followup_yet = text_at(app, grid.doctor.phone, "复 ZZZ 好转", hours(2))
    assert no_followup_yet is not None and "ZZZ" in no_followup_yet
    text_at(app, grid.doctor.phone, f"FOLLOWUP {code} died", hours(24 * 15))
    assert member_status(app, grid.members[5].id) == PatientStatus.DECEASED


def test_a_later_follow_up_replaces_the_earlier_one_and_records_a_death(app, county) -> None:
    grid = county["grid"]
    code = opened_and_acknowledged(app, grid)
    text_at(app, grid.doctor.phone, f"结 {code} 转诊", hours(1))
    day = 24 * 15
    assert text_at(app, grid.doctor.phone, f"复 {code} 好转", hours(day)) == (
        f"已记录{code}转诊随访：好转。"
    )
    again = text_at(app, grid.doctor.phone, f"复 {code} 好转", hours(day + 1))
    assert again == f"病例{code}的转诊随访此前已记录过：好转，无需再发。"
    worse = text_at(app, grid.doctor.phone, f"复 {code} 未好转", hours(day + 2))
    assert worse == f"已更新{code}转诊随访：未好转（原为好转）。"
    assert member_status(app, grid.members[5].id) == PatientStatus.ACTIVE
    died = text_at(app, grid.doctor.phone, f"复 {code} 死亡", hours(day + 3))
    assert died == f"已更新{code}转诊随访：死亡（原为未好转）。"
    case = the_case(app)
    assert (case.followup_outcome, case.followup_at) == ("died", hours(day + 3))
    assert member_status(app, grid.members[5].id) == PatientStatus.DECEASED
    assert timeline(app)[-3:] == ["followed_up"] * 3
    with database_of(app).unit_of_work() as session:
        changes = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "escalation.followup")
        ).all()
        assert [(entry.before, entry.after) for entry in changes] == [
            (None, {"followup": "better"}),
            ({"followup": "better"}, {"followup": "worse"}),
            ({"followup": "worse"}, {"followup": "died"}),
        ]
    undone = text_at(app, grid.doctor.phone, f"FOLLOWUP {code} better", hours(day + 4))
    assert undone is not None and code in undone and len(undone) <= 70
    assert "死亡" in undone or "died" in undone
    repeated = text_at(app, grid.doctor.phone, f"复 {code} 死亡", hours(day + 5))
    assert repeated is not None and "已记录过" in repeated and len(repeated) <= 70
    assert the_case(app).followup_outcome == "died"
    assert member_status(app, grid.members[5].id) == PatientStatus.DECEASED


def test_a_follow_up_names_a_code_that_does_not_exist(app, county) -> None:
    grid = county["grid"]
    code = opened_and_acknowledged(app, grid)
    text_at(app, grid.doctor.phone, f"结 {code} 在家", hours(1))
    assert text_at(app, grid.doctor.phone, "复 ZZZ 好转", hours(2)) == (
        "没有编号ZZZ的病例。请核对短信中的编号。"
    )
    assert text_at(app, grid.doctor.phone, f"复 {code} 好转", hours(2)) == (
        f"病例{code}无需转诊随访（仅转诊、住院的病例需要）。"
    )
    assert the_case(app).followup_outcome is None


def test_close_on_the_command_line_and_the_list(app, county) -> None:
    grid = county["grid"]
    code = opened_and_acknowledged(app, grid)
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["escalations", "close", code, "--outcome", "home"])
    assert missing.exit_code != 0
    result = runner.invoke(
        args=[
            "escalations",
            "close",
            code,
            "--outcome",
            "referred",
            "--reason",
            "sent to the county hospital",
            "--at",
            "2026-12-10T12:00:00+08:00",
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"已结案{code}：转诊" in result.output
    listed = json.loads(runner.invoke(args=["escalations", "list", "--format", "json"]).output)
    [item] = listed["items"]
    assert (item["kind"], item["outcome"], item["state"]) == ("urgent", "referred", "closed")
    assert item["closed_at"] == "2026-12-10T04:00:00+00:00"
    assert item["followup_due"] == "2026-12-24"
    again = runner.invoke(args=["escalations", "close", code, "--outcome", "home", "--reason", "x"])
    assert again.exit_code == 1 and "已结案" in again.output
    with database_of(app).unit_of_work() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "escalation.close" in actions


def test_close_by_api(app, county) -> None:
    grid, other = county["grid"], county["other"]
    code = opened_and_acknowledged(app, grid)
    with database_of(app).unit_of_work() as session:
        make_user(session, "wang", "doctor", doctor_code=grid.doctor.code)
        make_user(session, "li", "doctor", doctor_code=other.doctor.code)
        mine, theirs = token_for(session, "wang"), token_for(session, "li")
        session.commit()
    client = app.test_client()
    path = f"/api/v1/escalations/{code}/close"
    assert client.post(path, json={"outcome": "home", "reason": "ok"}).status_code == 401
    bad = client.post(path, json={"outcome": "cured"}, headers=bearer(mine))
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) == {"outcome", "reason"}
    forbidden = client.post(path, json={"outcome": "home", "reason": "x"}, headers=bearer(theirs))
    assert forbidden.status_code == 403
    # A code that does not exist answers as another doctor's case does.
    missing = "/api/v1/escalations/ZZZ/close"
    unknown = client.post(missing, json={"outcome": "home", "reason": "x"}, headers=bearer(theirs))
    assert unknown.status_code == 403
    deep = client.post(
        path,
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers=bearer(mine),
    )
    assert deep.status_code == 400, deep.get_data(as_text=True)
    assert the_case(app).outcome is None
    done = client.post(path, json={"outcome": "admitted", "reason": "ward 3"}, headers=bearer(mine))
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert (body["outcome"], body["state"], body["followup_due"]) == (
        "admitted",
        "closed",
        the_case(app).followup_due.isoformat(),  # type: ignore[union-attr]
    )
    again = client.post(path, json={"outcome": "home", "reason": "x"}, headers=bearer(mine))
    assert again.status_code == 409
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "post" in spec["paths"]["/api/v1/escalations/{code}/close"]


def rollup(app: Flask, week: str, at: str) -> dict[str, Any]:
    runner = app.test_cli_runner()
    args = ["rollups", "show", "--level", "grid", "--code", "JXV01-HTN01", "--week", week]
    result = runner.invoke(args=[*args, "--at", at, "--format", "json"])
    assert result.exit_code == 0, result.output
    indicators: dict[str, Any] = json.loads(result.output)["indicators"]
    return indicators


def test_the_rollup_counts_critical_cases_outcomes_and_follow_ups(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "好 5 血压185/115", T0)
    critical = the_case(app).code
    text_at(app, grid.doctor.phone, f"收到 {critical}", hours(1))
    text_at(app, grid.doctor.phone, f"结 {critical} 转诊", hours(2))
    text_at(app, grid.coordinator.phone, "急 6 头晕", hours(3))
    urgent = the_case(app).code
    text_at(app, grid.doctor.phone, f"收到 {urgent}", hours(3.1))
    text_at(app, grid.doctor.phone, f"结 {urgent} 在家", hours(4))

    week = rollup(app, "2026-W50", "2026-12-14T09:00:00+08:00")
    assert (week["critical"], week["critical_ack_median_s"]) == (1, 3600)
    assert (week["urgent"], week["urgent_ack_median_s"]) == (1, 360)
    assert week["outcomes"] == {"home": 1, "referred": 1, "admitted": 0, "died": 0, "false": 0}
    assert (week["referral_followups_due"], week["referral_followups_done"]) == (0, 0)

    text_at(app, grid.doctor.phone, f"复 {critical} 未好转", hours(24 * 14 + 1))
    later = rollup(app, "2026-W52", "2026-12-28T09:00:00+08:00")
    assert (later["referral_followups_due"], later["referral_followups_done"]) == (1, 1)
    assert later["critical"] == 0 and later["outcomes"]["referred"] == 0
