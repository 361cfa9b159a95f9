"""The urgent story on SMS_BACKEND=aliyun VOICE_BACKEND=aliyun (and Tencent Cloud) on a
controlled clock: the providers' pushes in, the official SDKs out to local stand-ins,
the tick between. The doctor is texted, called at 3 minutes, and either presses 1 (the
reporter is told) or does not answer (the next step is reached at once)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from config.runtime import settings_of
from grids.escalation.models import Escalation, EscalationEvent
from grids.storage.session import database_of
from notifications.models import OutboxMessage, OutboxStatus
from notifications.providers import provider_of, voice_provider_of
from tests.support import factories
from tests.support.app import empty_all_tables, make_app
from tests.support.escalation import dispatch_at, outbox_rows, tick_at
from tests.support.mainland import (
    ALIYUN_SHOW_NUMBER,
    CALLBACK_SECRET,
    TENCENT_VMS_APP_ID,
    aliyun_settings,
    aliyun_voice_settings,
    tencent_settings,
    tencent_voice_settings,
    write_template_map,
)
from tests.support.mainland_standins import AliyunStandIn, TencentStandIn, TencentVoiceStandIn

# Thursday 26 November 2026, 10:00 in Shanghai.
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
ALIYUN_OK = {"code": 0, "msg": "接收成功"}
TENCENT_OK = {"result": 0, "errmsg": "OK"}


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def _app(database_url: str, settings: dict[str, Any]) -> Iterator[Flask]:
    application = make_app(database_url, **settings)
    yield application
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


@pytest.fixture
def aliyun_app(database_url: str, aliyun: AliyunStandIn, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    yield from _app(
        database_url,
        aliyun_settings(aliyun.endpoint, template_map) | aliyun_voice_settings(aliyun.endpoint),
    )


@pytest.fixture
def tencent_app(
    database_url: str, tencent: TencentStandIn, tencent_voice: TencentVoiceStandIn, tmp_path: Path
) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    yield from _app(
        database_url,
        tencent_settings(tencent.endpoint, template_map)
        | tencent_voice_settings(tencent_voice.endpoint),
    )


def _county(app: Flask) -> factories.GridFixture:
    with database_of(app).unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=10, code="JXV01-HTN01")
        session.commit()
        session.expunge_all()
        return grid


def push(app: Flask, path: str, payload: Any, at: datetime) -> Any:
    """A provider's push at clock time `at`: `sms/aliyun/up`, `voice/tencent/keypress`, ..."""
    channel, provider, kind = path.split("/")
    with time_machine.travel(at, tick=False):
        response = app.test_client().post(
            f"/{channel}/{provider}/{CALLBACK_SECRET}/{kind}",
            data=json.dumps(payload, ensure_ascii=False),
            content_type="application/json",
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def case(app: Flask) -> Escalation:
    with database_of(app).unit_of_work() as session:
        found = session.scalars(select(Escalation)).one()
        session.expunge(found)
        return found


def timeline(app: Flask) -> list[tuple[str, str | None, str | None]]:
    with database_of(app).unit_of_work() as session:
        rows = session.scalars(select(EscalationEvent).order_by(EscalationEvent.id))
        return [(row.kind, row.channel, row.detail) for row in rows]


def national(phone: str) -> str:
    return phone[3:]


def aliyun_up(phone: str, content: str, sequence_id: int) -> dict[str, Any]:
    return {
        "phone_number": national(phone),
        "send_time": "2026-11-26 10:00:00",
        "content": content,
        "sign_name": "介休卫健",
        "dest_code": "1234",
        "sequence_id": sequence_id,
    }


def aliyun_sms_delivered(aliyun: AliyunStandIn, row: OutboxMessage) -> dict[str, Any]:
    [sent] = [
        call for call in aliyun.calls_of("SendSms") if call.params.get("OutId") == str(row.id)
    ]
    return {
        "phone_number": national(row.to_phone),
        "success": True,
        "err_code": "DELIVERED",
        "biz_id": sent.answer["BizId"],
        "out_id": str(row.id),
    }


def aliyun_call_report(
    aliyun: AliyunStandIn, row: OutboxMessage, status_code: str, dtmf: str | None
) -> dict[str, Any]:
    """An item of Aliyun's VoiceReport push (help.aliyun.com/zh/vms/voicereport-7)."""
    [placed] = [
        call
        for call in aliyun.calls_of("SingleCallByTts")
        if call.params.get("OutId") == str(row.id)
    ]
    item = {
        "call_id": placed.answer["CallId"],
        "start_time": "2026-11-26 10:04:00",
        "end_time": "2026-11-26 10:04:30",
        "duration": "30",
        "status_code": status_code,
        "status_msg": "执行完成",
        "caller": ALIYUN_SHOW_NUMBER,
        "callee": national(row.to_phone),
        "out_id": str(row.id),
        "hangup_direction": "用户",
        "toll_type": "LOCAL",
    }
    if dtmf is not None:
        item["dtmf"] = dtmf
    return item


def _aliyun_until_the_call(
    app: Flask, aliyun: AliyunStandIn
) -> tuple[factories.GridFixture, OutboxMessage]:
    """The coordinator's 急 by SMS, the doctor's SMS delivered, nobody acknowledges for
    3 minutes: the doctor's call is placed. Returns the grid and the call's row."""
    grid = _county(app)
    coordinator, doctor = factories.phone_of(grid.coordinator), factories.phone_of(grid.doctor)
    assert push(app, "sms/aliyun/up", [aliyun_up(coordinator, "急 5 头晕站不稳", 1)], T0) == (
        ALIYUN_OK
    )
    dispatch_at(app, minutes(0.5))
    [alert] = outbox_rows(app, OutboxMessage.to_phone == doctor)
    assert (alert.template, alert.status) == ("sms.urgent.doctor", OutboxStatus.SENT)
    report = aliyun_sms_delivered(aliyun, alert)
    assert push(app, "sms/aliyun/report", [report], minutes(0.6)) == ALIYUN_OK

    assert tick_at(app, minutes(2)) == 0
    assert tick_at(app, minutes(3.5)) == 1  # 3 minutes after the SMS was sent: a call
    dispatch_at(app, minutes(3.6))
    [call] = outbox_rows(app, OutboxMessage.channel == "voice")
    assert (call.to_phone, call.status, call.provider) == (doctor, OutboxStatus.SENT, "aliyun")

    [placed] = aliyun.calls_of("SingleCallByTts")
    code = case(app).code
    assert placed.params["CalledNumber"] == national(doctor)
    assert placed.params["CalledShowNumber"] == ALIYUN_SHOW_NUMBER
    assert placed.params["TtsCode"] == "TTS_501"
    assert placed.params["PlayTimes"] == "2"
    assert placed.params["OutId"] == str(call.id)
    variables = json.loads(placed.params["TtsParam"])
    assert variables["code"] == code
    assert variables["grid"] == "JXV01-HTN01"
    return grid, call


def test_aliyun_the_doctor_called_at_3_minutes_presses_1_and_the_reporter_is_told(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    grid, call = _aliyun_until_the_call(aliyun_app, aliyun)
    coordinator = factories.phone_of(grid.coordinator)
    report = aliyun_call_report(aliyun, call, "200000", "1")
    assert push(aliyun_app, "voice/aliyun/report", [report], minutes(4.5)) == ALIYUN_OK

    state = case(aliyun_app)
    assert state.state == "acknowledged"
    assert state.acknowledged_at == minutes(4.5)
    [told] = outbox_rows(aliyun_app, OutboxMessage.template == "sms.urgent.acknowledged")
    assert told.to_phone == coordinator
    assert told.body.startswith("村医王医生已收到紧急报告")
    dispatch_at(aliyun_app, minutes(4.6))
    assert national(coordinator) in [c["PhoneNumbers"] for c in aliyun.sent()]

    # Aliyun pushes the same report again: nothing is applied twice.
    before = timeline(aliyun_app)
    assert push(aliyun_app, "voice/aliyun/report", [report], minutes(5)) == ALIYUN_OK
    assert timeline(aliyun_app) == before
    assert [kind for kind, _, _ in before] == [
        "opened",
        "notified",
        "delivered",
        "called",
        "keypress",
        "acknowledged",
    ]
    assert ("keypress", "voice", "1") in before
    assert tick_at(aliyun_app, minutes(30)) == 0


def test_aliyun_the_doctor_does_not_answer_and_the_township_is_told_at_once(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    _, call = _aliyun_until_the_call(aliyun_app, aliyun)
    report = aliyun_call_report(aliyun, call, "200003", None)
    assert push(aliyun_app, "voice/aliyun/report", [report], minutes(4.5)) == ALIYUN_OK
    [call] = outbox_rows(aliyun_app, OutboxMessage.id == call.id)
    assert (call.status, call.error_code) == (OutboxStatus.FAILED, "no_answer")

    # Well before the doctor's 10 minutes: the ladder goes on at the next tick.
    assert tick_at(aliyun_app, minutes(4.6)) == 1
    state = case(aliyun_app)
    assert (state.state, state.step) == ("open", 1)
    [escalated] = outbox_rows(aliyun_app, OutboxMessage.template == "sms.urgent.escalated")
    assert escalated.created_at == minutes(4.6)
    events = timeline(aliyun_app)
    assert ("failed", "voice", "failed no_answer") in events
    assert ("escalated", None, "call_failed") in events


def test_aliyun_an_answered_call_is_on_the_timeline_and_the_step_waits(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    _, call = _aliyun_until_the_call(aliyun_app, aliyun)
    report = aliyun_call_report(aliyun, call, "200001", None)
    assert push(aliyun_app, "voice/aliyun/report", [report], minutes(4.5)) == ALIYUN_OK
    assert tick_at(aliyun_app, minutes(5)) == 0
    assert ("delivered", "voice", "answered") in timeline(aliyun_app)
    assert case(aliyun_app).step == 0
    assert tick_at(aliyun_app, minutes(10.6)) == 1  # the doctor's own 10 minutes


def test_aliyun_a_call_with_no_result_in_5_minutes_takes_the_ladder_on(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    _aliyun_until_the_call(aliyun_app, aliyun)
    assert tick_at(aliyun_app, minutes(8.5)) == 0
    assert tick_at(aliyun_app, minutes(8.7)) == 1  # placed at 3.6, no result by 8.6
    assert ("escalated", None, "call_no_report") in timeline(aliyun_app)


def test_aliyun_reconciliation_pulls_a_call_result_the_push_missed(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    from notifications.mainland.reconcile import reconcile

    _, call = _aliyun_until_the_call(aliyun_app, aliyun)
    [placed] = aliyun.calls_of("SingleCallByTts")
    aliyun.call_details[placed.answer["CallId"]] = {
        "callee": national(call.to_phone),
        "state": "200000",
        "stateDesc": "用户听完语音",
        "duration": 28,
        "dtmf": "1",
    }
    app = aliyun_app
    result = reconcile(
        database_of(app), provider_of(app), settings_of(app), minutes(6), voice_provider_of(app)
    )
    assert result.calls == 1
    [query] = aliyun.calls_of("QueryCallDetailByCallId")
    assert query.params["ProdId"] == "11010000138001"
    assert case(app).state == "acknowledged"
    again = reconcile(
        database_of(app), provider_of(app), settings_of(app), minutes(7), voice_provider_of(app)
    )
    assert again.calls == 0


# --- Tencent Cloud: sending and the status and keypress pushes ---


def _tencent_until_the_call(
    app: Flask, tencent: TencentStandIn, tencent_voice: TencentVoiceStandIn
) -> tuple[factories.GridFixture, OutboxMessage, str]:
    grid = _county(app)
    coordinator, doctor = factories.phone_of(grid.coordinator), factories.phone_of(grid.doctor)
    reply: dict[str, Any] = {"mobile": national(coordinator), "nationcode": "86"}
    reply |= {"text": "急 5 头晕站不稳", "sign": "介休卫健", "time": int(T0.timestamp())}
    assert push(app, "sms/tencent/reply", reply, T0) == TENCENT_OK
    dispatch_at(app, minutes(0.5))
    [alert] = outbox_rows(app, OutboxMessage.to_phone == doctor)
    status = {
        "user_receive_time": "2026-11-26 10:00:40",
        "nationcode": "86",
        "mobile": national(doctor),
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": alert.provider_sid,
        "ext": str(alert.id),
    }
    assert push(app, "sms/tencent/status", [status], minutes(0.6)) == TENCENT_OK
    assert tick_at(app, minutes(3.5)) == 1
    dispatch_at(app, minutes(3.6))
    [call] = outbox_rows(app, OutboxMessage.channel == "voice")
    assert (call.status, call.provider) == (OutboxStatus.SENT, "tencent")
    [placed] = tencent_voice.placed()
    assert placed["CalledNumber"] == doctor
    assert placed["VoiceSdkAppid"] == TENCENT_VMS_APP_ID
    assert placed["TemplateId"] == "1501"
    assert placed["PlayTimes"] == 2
    assert placed["SessionContext"] == str(call.id)
    assert case(app).code in "".join(placed["TemplateParamSet"])
    return (
        grid,
        call,
        tencent_voice.calls_of("SendTtsVoice")[0].answer["Response"]["SendStatus"]["CallId"],
    )


def test_tencent_the_doctor_does_not_answer_and_the_township_is_told_at_once(
    tencent_app: Flask, tencent: TencentStandIn, tencent_voice: TencentVoiceStandIn
) -> None:
    _, call, call_id = _tencent_until_the_call(tencent_app, tencent, tencent_voice)
    status = {
        "voiceprompt_callback": {
            "result": "1",
            "accept_time": "0",
            "call_from": "",
            "callid": call_id,
            "end_calltime": "1795663500",
            "fee": "0",
            "mobile": national(call.to_phone),
            "nationcode": "86",
            "start_calltime": "1795663440",
        }
    }
    assert push(tencent_app, "voice/tencent/status", status, minutes(4.5)) == TENCENT_OK
    assert push(tencent_app, "voice/tencent/status", status, minutes(4.5)) == TENCENT_OK
    assert tick_at(tencent_app, minutes(4.6)) == 1
    assert case(tencent_app).step == 1
    assert ("escalated", None, "call_failed") in timeline(tencent_app)


def test_tencent_a_keypress_of_1_acknowledges(
    tencent_app: Flask, tencent: TencentStandIn, tencent_voice: TencentVoiceStandIn
) -> None:
    grid, call, call_id = _tencent_until_the_call(tencent_app, tencent, tencent_voice)
    key = {
        "voicekey_callback": {
            "call_from": "",
            "callid": call_id,
            "keypress": "1",
            "mobile": national(call.to_phone),
            "nationcode": "86",
        }
    }
    assert push(tencent_app, "voice/tencent/keypress", key, minutes(4.2)) == TENCENT_OK
    assert case(tencent_app).state == "acknowledged"
    [told] = outbox_rows(tencent_app, OutboxMessage.template == "sms.urgent.acknowledged")
    assert told.to_phone == factories.phone_of(grid.coordinator)
    before = timeline(tencent_app)
    assert push(tencent_app, "voice/tencent/keypress", key, minutes(4.3)) == TENCENT_OK
    assert timeline(tencent_app) == before
