"""Conversations through the signed Twilio webhook: what coordinators, members,
doctors and strangers send, what is stored, what is sent on, and the replies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from grids.core.vocabulary import PatientStatus
from grids.models import (
    ExchangeAttendance,
    ExchangeOverride,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
from grids.storage.database import Database
from notifications.models import InboundMessage, OutboxMessage, SmsContact
from notifications.sms import grammar
from tests.support import factories
from tests.support.county import THURSDAY, County, build_county
from tests.support.queries import count, rows
from tests.support.webhooks import (
    INBOUND,
    new_sid,
    post_signed,
    reply_of,
    send,
    signature_for,
    twilio_form,
)

NOT_RED_FLAG = OutboxMessage.template != "sms.urgent.red_flag"


@pytest.fixture
def county(db: Database) -> County:
    return build_county(db)


@pytest.fixture(autouse=True)
def thursday() -> Iterator[None]:
    with time_machine.travel(THURSDAY, tick=False):
        yield


# --- the signature ---


def test_a_signed_request_is_accepted_with_unknown_extra_fields(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "好", AddOns='{"status":"successful"}')
    assert reply == "已收到第48周报告：18人稳定"


@pytest.mark.parametrize("tamper", ["wrong", "missing", "changed_parameter", "wrong_url"])
def test_requests_not_signed_by_twilio_are_refused_and_nothing_is_stored(
    client, db, county, tamper
) -> None:
    form = twilio_form(county.zh.coordinator.phone, "好")
    signature = signature_for(form)
    if tamper == "wrong":
        signature = signature_for(form | {"Body": "x"})
    elif tamper == "missing":
        signature = ""
    elif tamper == "changed_parameter":
        form = form | {"Body": "急 5 胸痛"}
    elif tamper == "wrong_url":
        signature = signature_for(form, url="https://elsewhere.example.org" + INBOUND)
    response = post_signed(client, form, signature)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert count(db, InboundMessage) == count(db, WeeklyReport) == 0


# --- weekly reports ---


def test_all_stable(client, db, county) -> None:
    assert send(client, county.zh.coordinator.phone, "好") == "已收到第48周报告：18人稳定"
    [report] = rows(db, WeeklyReport)
    assert (report.grid_id, report.week, report.all_stable) == (county.zh.grid.id, "2026-W48", True)
    [message] = rows(db, InboundMessage)
    assert (message.body, message.sender_type, message.sender_id, message.command) == (
        "好",
        "coordinator",
        county.zh.coordinator.id,
        "report",
    )
    assert (message.outcome, message.language, message.reply) == (
        "applied",
        "zh_CN",
        "已收到第48周报告：18人稳定",
    )


def test_readings_are_stored_and_restated(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "好 5 血压165/100 12 血糖8.9")
    assert reply == "已收到第48周报告：16人稳定，5号血压165/100，12号血糖8.9"
    readings = {(r.patient_id, r.kind): r for r in rows(db, Reading)}
    five, twelve = county.zh.members[5].id, county.zh.members[12].id
    assert (readings[(five, "bp")].systolic, readings[(five, "bp")].diastolic) == (165, 100)
    assert str(readings[(twelve, "glucose")].glucose_mmol) == "8.9"


def test_a_later_report_the_same_week_amends_and_says_so(client, db, county) -> None:
    phone = county.zh.coordinator.phone
    send(client, phone, "好 5 血压165/100 12 血糖8.9")
    reply = send(client, phone, "5 血压150/95 7 住院")
    assert reply == "已更新第48周报告：15人稳定，5号血压150/95，7号住院"
    [report] = rows(db, WeeklyReport)
    assert (report.revisions, report.all_stable) == (2, True)
    [bp] = rows(db, Reading, Reading.kind == "bp")
    assert (bp.systolic, bp.diastolic) == (150, 95)
    assert {m.seat for m in rows(db, MemberReport)} == {5, 7, 12}
    assert rows(db, Patient, Patient.id == county.zh.members[7].id)[0].status == (
        PatientStatus.HOSPITALISED
    )
    assert rows(db, InboundMessage)[-1].outcome == "amended"


def test_full_width_input_is_read_like_ascii(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "好　５　血压１６５／１００")
    assert reply == "已收到第48周报告：17人稳定，5号血压165/100"


def test_a_death_is_recorded_and_the_doctor_told(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "好 9 去世")
    assert reply == "已收到第48周报告：17人稳定，9号去世"
    nine = rows(db, Patient, Patient.id == county.zh.members[9].id)[0]
    assert (nine.status, str(nine.died_on)) == (PatientStatus.DECEASED, "2026-11-26")
    [notice] = rows(db, OutboxMessage)
    assert (notice.to_phone, notice.template) == (county.zh.doctor.phone, "sms.notice.member_died")
    assert notice.body == f"JXV01-HTN01网格9号{nine.name}于2026-11-26去世（网格员报告）。"


def test_a_seat_not_in_the_grid_gets_the_correction_and_nothing_is_stored(
    client, db, county
) -> None:
    reply = send(client, county.zh.coordinator.phone, "5 血压150/95 19 住院")
    assert reply == "没有19号，本网格为1-18号。例：5 血压150/95"
    assert count(db, WeeklyReport) == count(db, Reading) == 0
    assert rows(db, InboundMessage)[0].outcome == "rejected"


def test_the_correction_describes_a_grid_with_gaps(client, db, county) -> None:
    with db.unit_of_work() as session:
        membership = session.scalar(
            select(Membership).where(Membership.patient_id == county.zh.members[7].id)
        )
        membership.left_at = THURSDAY
        session.commit()
    reply = send(client, county.zh.coordinator.phone, "7 血压150/95")
    assert reply == "没有7号，本网格为1-6、8-18号。例：5 血压150/95"


def test_an_implausible_reading_gets_the_correction_and_nothing_is_stored(
    client, db, county
) -> None:
    body = "5 血压300/400"
    reply = send(client, county.zh.coordinator.phone, body)
    parsed = grammar.parse(body)
    assert parsed.error is not None
    assert reply == grammar.error_text(parsed.error, "zh_CN")
    assert "5" in reply
    assert count(db, WeeklyReport) == count(db, Reading) == 0


# --- attendance ---


def test_attendance_headcount_then_seats(client, db, county) -> None:
    phone = county.zh.coordinator.phone
    assert send(client, phone, "到 15") == "已记录第48周交流：到15人"
    assert send(client, phone, "到 1 2 3") == "已更新第48周交流：到3人（1-3号）"
    [attendance] = rows(db, ExchangeAttendance)
    assert (attendance.headcount, attendance.seats) == (3, [1, 2, 3])


# --- urgent reports and acknowledgement ---


def test_urgent_goes_to_the_doctor_and_the_doctors_ack_reaches_the_coordinator(
    client, db, county
) -> None:
    grid = county.zh
    reply = send(client, grid.coordinator.phone, "急 5 胸痛")
    [urgent] = rows(db, UrgentReport)
    assert (urgent.seat, urgent.patient_id, urgent.text) == (5, grid.members[5].id, "胸痛")
    assert reply == f"已通知村医王医生（编号{urgent.code}）：5号胸痛。危急请拨120。"
    alert, red_flag = rows(db, OutboxMessage)
    assert (alert.to_phone, alert.urgent, alert.template) == (
        grid.doctor.phone,
        True,
        "sms.urgent.doctor",
    )
    assert alert.body == (
        f"【急】JXV01-HTN01网格5号{grid.members[5].name}：胸痛。"
        f"报告人电话{grid.coordinator.phone}。确认请回复：收到 {urgent.code}"
    )
    # Chest pain is a red flag: the county hospital hears of it from the first minute.
    assert (red_flag.to_phone, red_flag.template) == (
        county.tree["county"].phone,
        "sms.urgent.red_flag",
    )

    ack = send(client, grid.doctor.phone, "收到")
    assert ack == f"已确认{urgent.code}：JXV01-HTN01网格5号{grid.members[5].name}。已告知报告人。"
    [urgent] = rows(db, UrgentReport)
    assert urgent.acknowledged_by_id == grid.doctor.id
    told = rows(db, OutboxMessage, OutboxMessage.template == "sms.urgent.acknowledged")
    assert [(m.to_phone, m.body) for m in told] == [
        (grid.coordinator.phone, f"村医王医生已收到紧急报告{urgent.code}，正在处理。")
    ]
    assert send(client, grid.doctor.phone, "收到") == "目前没有待您确认的紧急报告。"


def test_a_bare_ack_with_several_open_lists_the_codes(client, db, county) -> None:
    send(client, county.zh.coordinator.phone, "急 5 胸痛")
    send(client, county.zh.coordinator.phone, "急 6 晕倒")
    codes = [u.code for u in rows(db, UrgentReport)]
    reply = send(client, county.zh.doctor.phone, "收到")
    assert reply == f"有2条待确认：{codes[0]}、{codes[1]}。请回复“收到 编号”，如：收到 {codes[0]}"
    assert send(client, county.zh.doctor.phone, f"收到 {codes[1]}").startswith(f"已确认{codes[1]}")


def test_another_grids_doctor_cannot_acknowledge(client, db, county) -> None:
    send(client, county.zh.coordinator.phone, "急 5 胸痛")
    [urgent] = rows(db, UrgentReport)
    reply = send(client, county.en.doctor.phone, f"ACK {urgent.code}")
    assert reply == f"{urgent.code} is not from one of your grids; its own doctor acknowledges it."
    assert rows(db, UrgentReport)[0].acknowledged_at is None


def test_a_grid_without_a_doctor_alerts_the_clinics_other_doctors_and_says_so(
    client, db, county
) -> None:
    with db.unit_of_work() as session:
        orphan = factories.grid_with_members(
            session, county.tree["clinic_b"], size=6, with_doctor=False, code="JXV02-HTN09"
        )
        session.commit()
    assert orphan.coordinator.phone is not None
    reply = send(client, orphan.coordinator.phone, "急 3 说话不清")
    [urgent] = rows(db, UrgentReport)
    assert reply == (
        f"本网格暂无村医，已通知西村卫生室（编号{urgent.code}）：3号说话不清。危急请拨120。"
    )
    # The ladder's next step is the same clinic's other doctors (Li Wei of the English grid).
    [alert] = rows(db, OutboxMessage, NOT_RED_FLAG)
    assert (alert.to_phone, alert.template, alert.urgent) == (
        county.en.doctor.phone,
        "sms.urgent.duty_member",
        True,
    )
    assert alert.body.startswith("URGENT for the 西村卫生室 duty doctor (no village doctor)")


def test_a_grid_without_any_doctor_at_its_clinic_alerts_the_township(client, db, county) -> None:
    with db.unit_of_work() as session:
        lonely = factories.facility_tree(session, prefix="L")
        orphan = factories.grid_with_members(
            session, lonely["clinic_a"], size=6, with_doctor=False, code="LV01-HTN09"
        )
        session.commit()
    reply = send(client, orphan.coordinator.phone, "急 3 说话不清")  # type: ignore[arg-type]
    [urgent] = rows(db, UrgentReport)
    assert reply == (
        f"本网格暂无村医，已通知义安镇卫生院（编号{urgent.code}）：3号说话不清。危急请拨120。"
    )
    [alert] = rows(db, OutboxMessage, NOT_RED_FLAG)
    assert (alert.to_phone, alert.template) == (lonely["township"].phone, "sms.urgent.duty_member")
    assert alert.body.startswith(
        "【急】请义安镇卫生院值班医生处理（网格无村医）：LV01-HTN09网格3号"
    )


# --- the exchange ---


def test_moving_and_skipping_this_weeks_exchange_tells_the_members(client, db, county) -> None:
    phone = county.zh.coordinator.phone
    assert send(client, phone, "改 周五 19:00") == "已改：本周交流改到周五19:00，已通知17人。"
    moved = rows(db, OutboxMessage, OutboxMessage.template == "sms.notice.exchange_moved")
    assert len(moved) == 17
    assert moved[0].body == "JXV01-HTN01网格：本周交流活动改到周五19:00。"
    assert phone not in {m.to_phone for m in moved}
    assert send(client, phone, "停") == "已取消本周交流，已通知17人。"
    [override] = rows(db, ExchangeOverride)
    assert (override.week, override.skipped, override.starts_at) == ("2026-W48", True, None)
    assert count(db, OutboxMessage, OutboxMessage.template == "sms.notice.exchange_skipped") == 17


def test_moving_the_exchange_into_the_past_is_refused(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "改 周二 19:00")
    assert reply == "周二19:00已过，请改到之后的时间。例：改 周日 19:00"
    assert count(db, ExchangeOverride) == count(db, OutboxMessage) == 0


# --- opting out and in ---


def test_a_coordinator_opting_out_and_back_in(client, db, county) -> None:
    phone = county.zh.coordinator.phone
    assert send(client, phone, "退订") == "已退订。回复“开始”可恢复"
    [contact] = rows(db, SmsContact)
    assert (contact.phone, contact.opt_out_keyword) == (phone, "退订")
    assert contact.opted_out_at is not None
    [alert] = rows(db, OutboxMessage)
    assert (alert.to_phone, alert.template) == (
        county.zh.doctor.phone,
        "sms.notice.coordinator_opted_out",
    )
    assert (
        alert.body
        == f"JXV01-HTN01网格的网格员{county.zh.coordinator.name}已退订短信，请另选网格员。"
    )
    assert send(client, phone, "开始") == "已恢复接收短信。回复“退订”可停止。"
    assert rows(db, SmsContact)[0].opted_out_at is None


def test_stop_and_start_in_english_from_anyone(client, db, county) -> None:
    stranger = factories.phone()
    assert send(client, stranger, "STOP") == "Unsubscribed. Reply START to resume."
    assert rows(db, SmsContact)[0].opted_out_at is not None
    assert send(client, stranger, "START") == "You're subscribed again. Reply STOP to stop."
    member = county.en.members[4].phone
    assert send(client, member, "stop") == "Unsubscribed. Reply START to resume."
    assert count(db, OutboxMessage) == 0


# --- who may send what ---


def test_a_member_texting_a_report_is_told_who_the_coordinator_is(client, db, county) -> None:
    reply = send(client, county.zh.members[4].phone, "好 5 血压150/95")
    assert reply == (
        f"周报由网格员{county.zh.coordinator.name}发送，请把情况告诉他/她。急事请回复：急 加情况"
    )
    assert count(db, WeeklyReport) == 0
    assert rows(db, InboundMessage)[0].outcome == "hint"


def test_a_members_own_urgent_message_is_about_them(client, db, county) -> None:
    member = county.zh.members[4]
    reply = send(client, member.phone, "急 胸闷喘不上气")
    [urgent] = rows(db, UrgentReport)
    assert (urgent.patient_id, urgent.seat, urgent.reporter_id) == (member.id, 4, member.id)
    assert reply == f"已通知村医王医生（编号{urgent.code}）：4号胸闷喘不上气。危急请拨120。"


def test_a_doctor_texting_a_report_gets_a_hint(client, db, county) -> None:
    reply = send(client, county.zh.doctor.phone, "好")
    assert reply == "医生请回复“收到 编号”确认紧急报告；周报由网格员发送。"
    assert count(db, WeeklyReport) == 0


@pytest.mark.parametrize(
    ("who", "body", "expected"),
    [
        (
            "coordinator",
            "帮助",
            "周报：好 或 好 5 血压150/95；到 15；急 5 胸痛；改 周四 19:00；停；退订",
        ),
        (
            "member",
            "帮助",
            "急事请回复：急 加情况，如：急 胸痛。周报由网格员发送。回复“退订”停止接收",
        ),
        ("doctor", "帮助", "确认紧急报告：收到 或 收到 K7Q。周报由网格员发送。回复“退订”停止接收"),
    ],
)
def test_help_is_for_the_senders_role(client, county, who, body, expected) -> None:
    phone = {
        "coordinator": county.zh.coordinator.phone,
        "member": county.zh.members[3].phone,
        "doctor": county.zh.doctor.phone,
    }[who]
    assert send(client, phone, body) == expected


def test_a_stranger_gets_one_polite_reply_a_day(client, db, county) -> None:
    stranger = factories.phone()
    first = send(client, stranger, "你好，请问这是哪里")
    assert first == "您好，这里是慢病网格互助短信平台。本号码未登记，请联系村医。急事请拨120。"
    assert reply_of(post_signed(client, twilio_form(stranger, "你好？"))) is None
    assert [m.outcome for m in rows(db, InboundMessage)] == [
        "unknown_sender",
        "unknown_sender_quiet",
    ]
    with time_machine.travel(datetime(2026, 11, 27, 2, 0, tzinfo=UTC), tick=False):
        assert send(client, stranger, "你好") == first


def test_the_stranger_is_logged_with_a_masked_number(client, county, caplog) -> None:
    stranger = "+8613700001234"
    with caplog.at_level("INFO", logger="notifications.inbound"):
        send(client, stranger, "hello")
    assert "+86137****1234" in caplog.text
    assert stranger not in caplog.text


# --- Twilio retries ---


def test_the_same_message_sid_twice_changes_nothing_and_gets_the_same_reply(
    client, db, county
) -> None:
    sid = new_sid()
    first = send(client, county.zh.coordinator.phone, "急 5 胸痛", sid=sid)
    second = send(client, county.zh.coordinator.phone, "急 5 胸痛", sid=sid)
    assert first == second and first.startswith("已通知村医王医生")
    assert count(db, InboundMessage) == count(db, UrgentReport) == 1
    # The doctor, and the county hospital beside them for a red flag (chest pain).
    assert count(db, OutboxMessage) == 2


# --- English ---


def test_an_english_coordinator(client, db, county) -> None:
    grid = county.en
    reply = send(client, grid.coordinator.phone, "OK 5 BP165/100 12 BG8.9")
    assert reply == "Week 48 report received: 14 stable, #5 BP 165/100, #12 BG 8.9"
    assert send(client, grid.coordinator.phone, "5 bp 150/95") == (
        "Week 48 report updated: 14 stable, #5 BP 150/95"
    )
    assert send(client, grid.coordinator.phone, "ATT 1 2 3 5") == (
        "Week 48 exchange: 4 attended (#1-3, 5). Recorded."
    )
    assert send(client, grid.coordinator.phone, "OK 17 BP150/95") == (
        "No #17 in this grid; seats are #1-16. E.g. 5 BP150/95"
    )
    urgent_reply = send(client, grid.coordinator.phone, "URGENT 5 chest pain")
    [urgent] = rows(db, UrgentReport)
    assert (
        urgent_reply
        == f"Dr Li Wei alerted (ref {urgent.code}): #5 chest pain. If critical, call 120."
    )
    [alert] = rows(db, OutboxMessage, OutboxMessage.urgent.is_(True), NOT_RED_FLAG)
    assert alert.body.startswith(f"URGENT grid JXV02-DM01 #5 {grid.members[5].name}: chest pain.")
    assert send(client, grid.doctor.phone, f"ack {urgent.code.lower()}") == (
        f"{urgent.code} acknowledged: grid JXV02-DM01 #5 {grid.members[5].name}. "
        "The reporter has been told."
    )
    # The attendance is in: this week's exchange took place and can no longer be skipped.
    assert send(client, grid.coordinator.phone, "SKIP") == (
        "This week's exchange took place (4 attended); it cannot be moved or skipped. "
        "Next week's can be changed from Monday."
    )


def test_the_reply_follows_the_language_the_message_was_written_in(client, county) -> None:
    zh, en = county.zh.coordinator.phone, county.en.coordinator.phone
    # The doctor's Chinese name would take the English reply past one segment: the seat
    # and words the coordinator can check are kept, the name is left out.
    reply = send(client, zh, "ok 5 chest tight, sweating")
    assert reply.startswith("Your village doctor was alerted (ref ")
    assert "#5 chest tight, sweating" in reply
    assert send(client, en, "好") == "已收到第48周报告：16人稳定"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("OK", "已收到第48周报告：18人稳定"),
        ("ok 5 BP150/95", "已收到第48周报告：17人稳定，5号血压150/95"),
        ("STOP", "已退订。回复“开始”可恢复"),
    ],
)
def test_keywords_alone_are_answered_in_the_senders_own_language(
    client, county, body, expected
) -> None:
    # Chinese volunteers type OK, BP and STOP on a keypad more easily than Chinese,
    # and may not read English.
    assert send(client, county.zh.coordinator.phone, body) == expected


# --- when something breaks ---


def test_an_unexpected_error_is_stored_logged_and_answered(
    client, db, county, monkeypatch, caplog
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"database hiccup for {county.zh.coordinator.phone}")

    monkeypatch.setattr("notifications.inbound.reports.record_weekly_report", broken)
    with caplog.at_level("ERROR", logger="notifications.inbound"):
        reply = send(client, county.zh.coordinator.phone, "好 5 血压150/95")
    assert reply == "抱歉，系统暂时出错，短信未能处理。急事请直接打电话给医生或拨120。"
    [message] = rows(db, InboundMessage)
    assert (message.outcome, message.body, message.reply) == ("error", "好 5 血压150/95", reply)
    assert count(db, WeeklyReport) == count(db, Reading) == 0
    assert "RuntimeError" in caplog.text
    assert county.zh.coordinator.phone not in caplog.text


def test_an_urgent_message_that_hits_an_error_still_reaches_the_doctor(
    client, db, county, monkeypatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("escalation failed")

    monkeypatch.setattr("notifications.inbound.urgent.report_urgent", broken)
    reply = send(client, county.zh.coordinator.phone, "急 5 胸痛")
    assert reply == "抱歉，系统出错，但已把短信原文转给村医。危急请拨120。"
    [message] = rows(db, InboundMessage)
    assert message.outcome == "error"
    [alert] = rows(db, OutboxMessage)
    assert (alert.to_phone, alert.urgent, alert.template) == (
        county.zh.doctor.phone,
        True,
        "sms.urgent.fallback",
    )
    assert (
        alert.body
        == f"【急】系统出错，转发原文：{county.zh.coordinator.phone}发来：急 5 胸痛。请回电。"
    )
    assert count(db, UrgentReport) == 0
    # Twilio's retry of the same message gets the same answer and sends nothing more.
    again = send(client, county.zh.coordinator.phone, "急 5 胸痛", sid=message.message_sid)
    assert again == reply
    assert count(db, OutboxMessage) == 1


ERROR_REPLY = "抱歉，系统暂时出错，短信未能处理。急事请直接打电话给医生或拨120。"
ERROR_FORWARDED = "抱歉，系统出错，但已把短信原文转给村医。危急请拨120。"


@pytest.mark.parametrize(
    ("body", "expected", "forwarded"),
    [
        ("5号家属很着急", ERROR_REPLY, False),  # 着急 is no 急: the grammar says so
        ("急 5 胸痛", ERROR_FORWARDED, True),
    ],
)
def test_after_an_error_only_what_the_grammar_reads_as_urgent_is_forwarded(
    client, db, county, monkeypatch, body, expected, forwarded
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("handler failed")

    monkeypatch.setattr("notifications.inbound.receiving.handle", broken)
    assert send(client, county.zh.coordinator.phone, body) == expected
    [message] = rows(db, InboundMessage)
    assert (message.outcome, message.reply) == ("error", expected)
    sent = [(row.to_phone, row.template) for row in rows(db, OutboxMessage)]
    assert sent == ([(county.zh.doctor.phone, "sms.urgent.fallback")] if forwarded else [])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("5号家属很着急", "已收到短信。系统暂时故障，恢复后会处理并回复您。"),
        ("急 5 胸痛", "已收到，但系统故障，尚未通知医生。急事请立即打电话给村医或拨120。"),
    ],
)
def test_a_spooled_message_is_called_urgent_only_when_the_grammar_reads_it_so(
    client, county, monkeypatch, body, expected
) -> None:
    def unreachable(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, ConnectionError("connection refused"))

    monkeypatch.setattr("notifications.inbound.receiving.store_and_handle", unreachable)
    monkeypatch.setattr("notifications.inbound.receiving.start_replaying", lambda *_args: None)
    assert send(client, county.zh.coordinator.phone, body) == expected


def test_a_red_flag_inside_a_report_alerts_the_doctor_and_keeps_the_report(
    client, db, county
) -> None:
    reply = send(client, county.zh.coordinator.phone, "好 5 胸闷 12 血糖8.9")
    [urgent] = rows(db, UrgentReport)
    assert (urgent.seat, urgent.red_flag) == (5, True)
    assert reply == f"已通知村医王医生（编号{urgent.code}）：5号胸闷。危急请拨120。周报已记录。"
    [report] = rows(db, WeeklyReport)
    assert report.all_stable
    notes = {m.seat: m.note for m in rows(db, MemberReport)}
    assert notes == {5: "胸闷", 12: None}
    assert [m.template for m in rows(db, OutboxMessage)] == [
        "sms.urgent.doctor",
        "sms.urgent.red_flag",
    ]


# --- urgent cases that must reach a person, and say so truly ---


def test_a_red_flag_after_a_long_report_reaches_the_doctor_with_the_flag(
    client, db, county
) -> None:
    body = "好 1 血压150/95 2 血压160/100 3 血糖8.9 4 住院 6 血压145/92 11 漏药 7 胸口疼得厉害"
    reply = send(client, county.zh.coordinator.phone, body)
    [urgent] = rows(db, UrgentReport)
    assert (urgent.seat, urgent.text) == (7, "胸口疼得厉害")
    [alert] = rows(db, OutboxMessage, OutboxMessage.urgent.is_(True), NOT_RED_FLAG)
    assert alert.body.startswith(
        f"【急】JXV01-HTN01网格7号{county.zh.members[7].name}：胸口疼得厉害。"
    )
    assert (
        reply
        == f"已通知村医王医生（编号{urgent.code}）：7号胸口疼得厉害。危急请拨120。周报已记录。"
    )
    assert count(db, Reading) == 4


def test_an_urgent_seat_the_grid_lacks_is_not_taken_for_the_coordinator(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "急 25 胸痛")
    [urgent] = rows(db, UrgentReport)
    assert (urgent.seat, urgent.patient_id, urgent.text) == (None, None, "25: 胸痛")
    assert (
        reply == f"已通知村医王医生（编号{urgent.code}）：25号（本网格无此号）胸痛。危急请拨120。"
    )
    [alert] = rows(db, OutboxMessage, NOT_RED_FLAG)
    assert alert.template == "sms.urgent.doctor_unclear"
    assert f"报告人{county.zh.coordinator.name}" in alert.body


def test_urgent_with_no_seat_from_a_coordinator_names_nobody_as_the_patient(
    client, db, county
) -> None:
    reply = send(client, county.zh.coordinator.phone, "老王晕倒了")
    [urgent] = rows(db, UrgentReport)
    assert (urgent.seat, urgent.patient_id, urgent.text) == (None, None, "老王晕倒了")
    assert reply == f"已通知村医王医生（编号{urgent.code}）：老王晕倒了。危急请拨120。"
    bare = send(client, county.zh.coordinator.phone, "急")
    second = rows(db, UrgentReport)[1]
    assert bare == f"已通知村医王医生（编号{second.code}）。危急请拨120。"


def test_a_denied_red_flag_is_a_note_and_alerts_nobody(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "好 5号无胸痛，血压150/95")
    assert reply == "已收到第48周报告：17人稳定，5号血压150/95、无胸痛"
    assert count(db, UrgentReport) == count(db, OutboxMessage) == 0


def test_a_report_with_an_error_beside_a_red_flag_alerts_and_says_it_was_not_recorded(
    client, db, county
) -> None:
    reply = send(client, county.zh.coordinator.phone, "好 5 血压300/20 7 胸痛")
    [urgent] = rows(db, UrgentReport)
    assert urgent.seat == 7
    assert reply == (
        f"已通知村医王医生（编号{urgent.code}）：7号胸痛。危急请拨120。周报有误未记录，请改正后另发。"
    )
    assert count(db, WeeklyReport) == 0


def test_a_doctor_who_opted_out_is_bypassed_and_the_reporter_told(client, db, county) -> None:
    grid = county.zh
    assert send(client, grid.doctor.phone, "退订") == (
        "已退订。您将收不到紧急报告，改发卫生院值班。回复“开始”可恢复"
    )
    reply = send(client, grid.coordinator.phone, "急 5 胸痛")
    [urgent] = rows(db, UrgentReport)
    assert reply == (
        f"村医王医生收不到短信，已通知义安镇卫生院（编号{urgent.code}）：5号胸痛。危急请拨120。"
    )
    [alert] = rows(db, OutboxMessage, OutboxMessage.urgent.is_(True), NOT_RED_FLAG)
    assert (alert.to_phone, alert.template) == (
        county.tree["township"].phone,
        "sms.urgent.duty_member",
    )
    assert "村医王医生收不到短信" in alert.body
    send(client, grid.doctor.phone, "开始")
    send(client, grid.coordinator.phone, "急 6 晕倒")
    latest = rows(db, OutboxMessage, OutboxMessage.urgent.is_(True), NOT_RED_FLAG)[-1]
    assert latest.to_phone == grid.doctor.phone


def test_a_stranger_in_an_emergency_is_always_pointed_to_120(client, db, county) -> None:
    stranger = factories.phone()
    send(client, stranger, "你好")
    for body in ("急 胸痛", "救命"):
        assert send(client, stranger, body) == (
            "本号码未登记，短信无法转给医生。危急请立即拨打120，或直接打电话给村医。"
        )


def test_a_doctors_mistyped_code_is_corrected(client, db, county) -> None:
    assert send(client, county.zh.doctor.phone, "收到 I0O") == (
        "编号I0O不对，编号是短信里的3位字母数字。例：收到 K7Q"
    )


def test_a_long_message_with_a_late_red_flag_alerts_and_asks_to_split_the_report(
    client, db, county
) -> None:
    body = "好 " + "5 头晕 " * 100 + "7 胸痛"
    reply = send(client, county.zh.coordinator.phone, body)
    [urgent] = rows(db, UrgentReport)
    assert (urgent.seat, urgent.text) == (7, "胸痛")
    assert reply == (
        f"已通知村医王医生（编号{urgent.code}）：7号胸痛。危急请拨120。周报太长未记录，请分几条发。"
    )
    assert count(db, WeeklyReport) == 0
    [stored] = rows(db, InboundMessage)
    assert stored.body == body


def test_opting_out_again_the_same_day_asks_the_doctor_once(client, db, county) -> None:
    phone = county.zh.coordinator.phone
    for body in ("N", "开始", "T", "开始", "退订"):
        send(client, phone, body)
    notices = rows(db, OutboxMessage, OutboxMessage.template == "sms.notice.coordinator_opted_out")
    assert len(notices) == 1


def test_asking_in_words_to_stop_gets_how_to_opt_out(client, db, county) -> None:
    reply = send(client, county.zh.coordinator.phone, "不要再发了")
    assert reply == "如要退订，请只发“退订”两个字。不退订请忽略本条。"
    assert count(db, SmsContact) == 0


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("{code} 收到", "已确认{code}："),
        ("{code}收到", "已确认{code}："),
        ("已处理{code}", "已确认{code}："),
        ("ok {code}", "{code} acknowledged"),
    ],
)
@pytest.mark.parametrize("codes", ["K7QMHP", "NHPEFR"])
def test_a_doctor_naming_an_open_code_in_any_order_acknowledges_it(
    client, db, county, form, expected, codes, monkeypatch
) -> None:
    draws = iter(codes)
    monkeypatch.setattr("grids.escalation.urgent.secrets.choice", lambda _alphabet: next(draws))
    send(client, county.zh.coordinator.phone, "急 5 胸痛")
    send(client, county.zh.coordinator.phone, "急 6 晕倒")
    _first, second = rows(db, UrgentReport)
    reply = send(client, county.zh.doctor.phone, form.format(code=second.code.lower()))
    assert reply.startswith(expected.format(code=second.code))
    assert [u.acknowledged_at is not None for u in rows(db, UrgentReport)] == [False, True]
