"""Sending through the official Aliyun and Tencent Cloud SDKs to local stand-ins of their APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from config.runtime import settings_of
from grids.core.notices import Notice
from grids.storage.session import database_of
from notifications import contacts
from notifications.dispatcher import ACCOUNT_HOLD, dispatch_once
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import enqueue
from notifications.provider_templates import TemplateNotSendable
from notifications.providers import provider_of
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import aliyun_settings, tencent_settings, write_template_map
from tests.support.mainland_standins import AliyunStandIn, TencentStandIn

# Tuesday 24 November 2026, 10:00 in Shanghai: outside quiet hours.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
DOCTOR = "+8613900000001"


@pytest.fixture
def template_map(tmp_path: Path) -> Path:
    return write_template_map(tmp_path / "templates.json", leave_out=("sms.notice.member_died",))


def _app(database_url: str, settings: dict[str, Any]) -> Iterator[Flask]:
    application = make_app(database_url, **settings)
    yield application
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


@pytest.fixture
def aliyun_app(database_url: str, aliyun: AliyunStandIn, template_map: Path) -> Iterator[Flask]:
    yield from _app(database_url, aliyun_settings(aliyun.endpoint, template_map))


@pytest.fixture
def tencent_app(database_url: str, tencent: TencentStandIn, template_map: Path) -> Iterator[Flask]:
    yield from _app(database_url, tencent_settings(tencent.endpoint, template_map))


URGENT_PARAMS = {
    "grid": "JXV01-HTN01",
    "seat": "5",
    "name": "张三",
    "text": "胸痛，出冷汗，说话费力，家属已在身边照看",
    "phone": "+8613900000009",
    "code": "K7Q",
}


def queue(app: Flask, template: str = "sms.urgent.doctor", **changes: Any) -> int:
    values: dict[str, Any] = {
        "key": f"test:{template}:{changes.get('phone', DOCTOR)}",
        "phone": DOCTOR,
        "language": "zh_CN",
        "template": template,
        "params": URGENT_PARAMS if template == "sms.urgent.doctor" else {},
        "urgent": True,
    }
    values.update(changes)
    with app.app_context(), database_of(app).unit_of_work() as session:
        row = enqueue(session, Notice(**values), now=NOW)
        session.commit()
        assert row is not None
        return row.id


def dispatch(app: Flask, now: datetime = NOW) -> Any:
    return dispatch_once(database_of(app), provider_of(app), settings_of(app), now=now)


def row(app: Flask, row_id: int) -> OutboxMessage:
    with database_of(app).unit_of_work() as session:
        found = session.get(OutboxMessage, row_id)
        assert found is not None
        session.expunge(found)
        return found


# --- what each SDK sends ---


def test_aliyun_gets_the_template_code_its_variables_the_signature_and_our_outbox_id(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    row_id = queue(aliyun_app)
    assert dispatch(aliyun_app).sent == 1
    [call] = aliyun.calls_of("SendSms")
    assert call.headers["x-acs-version"] == "2017-05-25"
    assert call.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAI-test")
    assert call.params["PhoneNumbers"] == "13900000001"
    assert call.params["SignName"] == "介休卫健"
    assert call.params["TemplateCode"] == "SMS_106"
    assert call.params["OutId"] == str(row_id)
    assert json.loads(call.params["TemplateParam"]) == {
        "grid": "JXV01-HTN01",
        "seat": "5",
        "name": "张三",
        "text_1": "胸痛，出冷汗，说话费力，家属已在身边照看",
        "text_2": "",
        "phone": "+8613900000009",
        "code": "K7Q",
    }
    sent = row(aliyun_app, row_id)
    assert sent.status == OutboxStatus.SENT
    assert sent.provider == "aliyun"
    assert sent.provider_sid == call.answer["BizId"]


def test_tencent_gets_short_variables_in_order_and_our_outbox_id_as_session_context(
    tencent_app: Flask, tencent: TencentStandIn
) -> None:
    row_id = queue(tencent_app)
    assert dispatch(tencent_app).sent == 1
    [call] = tencent.calls_of("SendSms")
    assert call.headers["x-tc-version"] == "2021-01-11"
    assert call.headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=AKID-test/")
    assert call.params["PhoneNumberSet"] == [DOCTOR]
    assert call.params["SmsSdkAppId"] == "1400006666"
    assert call.params["SignName"] == "介休卫健"
    assert call.params["TemplateId"] == "1106"
    assert call.params["SessionContext"] == str(row_id)
    values = call.params["TemplateParamSet"]
    assert all(len(value) <= 6 for value in values)
    assert "".join(values) == "".join(
        URGENT_PARAMS[k] for k in ("grid", "seat", "name", "text", "phone", "code")
    )
    assert (
        row(tencent_app, row_id).provider_sid
        == call.answer["Response"]["SendStatusSet"][0]["SerialNo"]
    )


# --- failing at enqueue, not in the dispatcher ---


@pytest.mark.parametrize("backend", ["aliyun", "tencent"])
def test_an_unmapped_template_fails_at_enqueue_and_nothing_is_queued(
    request: pytest.FixtureRequest, backend: str
) -> None:
    app: Flask = request.getfixturevalue(f"{backend}_app")
    params = {"grid": "G1", "seat": "3", "name": "李四", "date": "2026-11-24"}
    with pytest.raises(TemplateNotSendable, match=r"sms\.notice\.member_died.*SMS_TEMPLATE_MAP"):
        queue(app, "sms.notice.member_died", params=params)
    with database_of(app).unit_of_work() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_a_value_too_long_for_the_tencent_variables_fails_at_enqueue(tencent_app: Flask) -> None:
    with pytest.raises(TemplateNotSendable, match="'code' has 20 characters"):
        queue(tencent_app, params={**URGENT_PARAMS, "code": "K" * 20})


# --- errors, classified ---


def test_an_invalid_number_fails_the_message_and_flags_the_number(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    aliyun.script("SendSms", aliyun.error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"))
    row_id = queue(aliyun_app)
    assert dispatch(aliyun_app).failed == 1
    assert row(aliyun_app, row_id).status == OutboxStatus.FAILED
    with database_of(aliyun_app).unit_of_work() as session:
        assert contacts.is_invalid(session, DOCTOR)


def test_tencent_blacklist_opts_the_number_out(tencent_app: Flask, tencent: TencentStandIn) -> None:
    tencent.script(
        "SendSms", tencent.number_error("FailedOperation.PhoneNumberInBlacklist", "免打扰名单")
    )
    row_id = queue(tencent_app)
    assert dispatch(tencent_app).failed == 1
    assert row(tencent_app, row_id).status == OutboxStatus.FAILED
    with database_of(tencent_app).unit_of_work() as session:
        assert contacts.is_opted_out(session, DOCTOR)
    queue(tencent_app, "sms.test", key="after-blacklist")
    assert dispatch(tencent_app).suppressed == 1
    assert len(tencent.calls_of("SendSms")) == 1


@pytest.mark.parametrize(
    ("backend", "code"),
    [
        ("aliyun", "isv.SMS_TEMPLATE_ILLEGAL"),
        ("aliyun", "isv.SMS_SIGNATURE_ILLEGAL"),
        ("aliyun", "isv.AMOUNT_NOT_ENOUGH"),
        ("tencent", "FailedOperation.TemplateIncorrectOrUnapproved"),
        ("tencent", "FailedOperation.InsufficientBalanceInSmsPackage"),
        ("tencent", "UnauthorizedOperation.ServiceSuspendDueToArrears"),
    ],
)
def test_configuration_and_account_errors_hold_every_message_and_lose_none(
    request: pytest.FixtureRequest, backend: str, code: str
) -> None:
    app: Flask = request.getfixturevalue(f"{backend}_app")
    standin = request.getfixturevalue(backend)
    standin.script("SendSms", standin.error(code, "refused"))
    first = queue(app)
    second = queue(app, "sms.test", key="second")
    stats = dispatch(app)
    assert (stats.sent, stats.failed, stats.released) == (0, 0, 2)
    for row_id in (first, second):
        held = row(app, row_id)
        assert (held.status, held.attempts) == (OutboxStatus.PENDING, 0)
        assert held.next_attempt_at == NOW + ACCOUNT_HOLD
        assert code.startswith(held.error_code or "-")
    assert dispatch(app, NOW + ACCOUNT_HOLD).sent == 2


@pytest.mark.parametrize(
    ("backend", "answer", "wait"),
    [
        (
            "aliyun",
            AliyunStandIn.error("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
            60,
        ),
        ("aliyun", AliyunStandIn.http_error(500, "InternalError", "busy"), 30),
        ("aliyun", AliyunStandIn.http_error(400, "Throttling.User", "too fast"), 30),
        ("tencent", TencentStandIn.number_error("LimitExceeded.PhoneNumberThirtySecondLimit"), 30),
        ("tencent", TencentStandIn.error("InternalError.Timeout", "timeout"), 30),
        ("tencent", TencentStandIn.http_error(502), 30),
    ],
)
def test_transient_errors_are_retried_with_backoff_by_us_not_the_sdk(
    request: pytest.FixtureRequest, backend: str, answer: Any, wait: int
) -> None:
    app: Flask = request.getfixturevalue(f"{backend}_app")
    standin = request.getfixturevalue(backend)
    standin.script("SendSms", answer)
    row_id = queue(app)
    assert dispatch(app).retried == 1
    assert len(standin.calls_of("SendSms")) == 1
    waiting = row(app, row_id)
    assert (waiting.status, waiting.attempts) == (OutboxStatus.PENDING, 1)
    assert waiting.next_attempt_at == NOW + timedelta(seconds=wait)
    assert dispatch(app, NOW + timedelta(seconds=wait)).sent == 1
    assert row(app, row_id).status == OutboxStatus.SENT


def test_an_unreachable_provider_is_a_transient_error(
    database_url: str, template_map: Path
) -> None:
    gone = AliyunStandIn()
    endpoint = gone.endpoint
    gone.close()
    for app in _app(database_url, aliyun_settings(endpoint, template_map)):
        row_id = queue(app)
        assert dispatch(app).retried == 1
        assert row(app, row_id).error_code == "network"


# --- per-number frequency caps, on a controlled clock ---


def test_the_dispatcher_spaces_same_content_to_one_number_30_seconds_apart_for_tencent(
    tencent_app: Flask, tencent: TencentStandIn
) -> None:
    first = queue(tencent_app, "sms.test", key="first", urgent=False)
    second = queue(tencent_app, "sms.test", key="second", urgent=False)
    queue(tencent_app, "sms.test", key="elsewhere", phone="+8613900000002", urgent=False)
    assert dispatch(tencent_app).sent == 2
    held = row(tencent_app, second)
    assert (held.status, held.attempts, held.error_code) == (
        OutboxStatus.PENDING,
        0,
        "frequency_cap",
    )
    assert held.next_attempt_at == NOW + timedelta(seconds=30)
    assert row(tencent_app, first).status == OutboxStatus.SENT
    assert dispatch(tencent_app, NOW + timedelta(seconds=29)).sent == 0
    assert dispatch(tencent_app, NOW + timedelta(seconds=30)).sent == 1
    assert [call.params["PhoneNumberSet"] for call in tencent.calls_of("SendSms")] == [
        [DOCTOR],
        ["+8613900000002"],
        [DOCTOR],
    ]


def test_the_eleventh_notice_of_the_day_waits_for_tomorrow_but_an_urgent_alert_goes(
    tencent_app: Flask, tencent: TencentStandIn
) -> None:
    for n in range(10):
        queue(
            tencent_app,
            "sms.notice.exchange_skipped",
            key=f"notice-{n}",
            params={"grid": f"G{n}"},
            urgent=False,
        )
    assert dispatch(tencent_app).sent == 10
    eleventh = queue(
        tencent_app,
        "sms.notice.exchange_skipped",
        key="notice-10",
        params={"grid": "G10"},
        urgent=False,
    )
    alert = queue(tencent_app)
    assert dispatch(tencent_app, NOW + timedelta(minutes=1)).sent == 1
    assert row(tencent_app, alert).status == OutboxStatus.SENT
    # Midnight in Shanghai is 16:00 UTC.
    assert row(tencent_app, eleventh).next_attempt_at == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
