"""Replies and delivery reports pushed by Aliyun and Tencent Cloud, and the urgent story
through Aliyun: the same inbound service as Twilio, answers through the outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from config.runtime import settings_of
from grids.models import UrgentReport
from grids.storage.database import Database
from grids.storage.session import database_of
from notifications import contacts
from notifications.dispatcher import dispatch_once
from notifications.models import InboundMessage, OutboxMessage, OutboxStatus
from notifications.provider_templates import RELAY_TEMPLATE
from notifications.providers import provider_of
from tests.support import factories
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import (
    CALLBACK_SECRET,
    aliyun_settings,
    tencent_settings,
    write_template_map,
)
from tests.support.mainland_standins import AliyunStandIn, TencentStandIn

# Thursday 26 November 2026, 10:00 in Shanghai.
THURSDAY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
ALIYUN_OK = {"code": 0, "msg": "接收成功"}
TENCENT_OK = {"result": 0, "errmsg": "OK"}


@pytest.fixture(autouse=True)
def thursday() -> Iterator[None]:
    with time_machine.travel(THURSDAY, tick=False):
        yield


def _app(database_url: str, settings: dict[str, Any]) -> Iterator[Flask]:
    application = make_app(database_url, **settings)
    yield application
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


@pytest.fixture
def aliyun_app(database_url: str, aliyun: AliyunStandIn, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    yield from _app(database_url, aliyun_settings(aliyun.endpoint, template_map))


@pytest.fixture
def tencent_app(database_url: str, tencent: TencentStandIn, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    yield from _app(database_url, tencent_settings(tencent.endpoint, template_map))


@pytest.fixture
def grid(aliyun_app: Flask) -> factories.GridFixture:
    return _grid(database_of(aliyun_app))


def _grid(db: Database) -> factories.GridFixture:
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        fixture = factories.grid_with_members(
            session, tree["clinic_a"], size=18, code="JXV01-HTN01"
        )
        session.commit()
        session.expunge_all()
    return fixture


def national(phone: str) -> str:
    return phone[3:]


_sequence = iter(range(100001, 10**9))


def aliyun_up(phone: str, content: str, sequence_id: Any = None) -> dict[str, Any]:
    """An item of Aliyun's SmsUp push (help.aliyun.com/document_detail/101847)."""
    return {
        "phone_number": national(phone),
        "send_time": "2026-11-26 10:00:00",
        "content": content,
        "sign_name": "介休卫健",
        "dest_code": "1234",
        "sequence_id": sequence_id if sequence_id is not None else next(_sequence),
    }


def post(client: Any, path: str, payload: Any, secret: str = CALLBACK_SECRET, **kw: Any) -> Any:
    provider, kind = path.split("/")
    return client.post(
        f"/sms/{provider}/{secret}/{kind}",
        data=json.dumps(payload, ensure_ascii=False),
        content_type="application/json",
        **kw,
    )


def outbox(db: Database, *where: Any) -> list[OutboxMessage]:
    with db.unit_of_work() as session:
        found = list(
            session.scalars(select(OutboxMessage).where(*where).order_by(OutboxMessage.id))
        )
        session.expunge_all()
        return found


def count(db: Database, model: type) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def dispatch(app: Flask) -> Any:
    return dispatch_once(database_of(app), provider_of(app), settings_of(app), now=THURSDAY)


def relayed(db: Database, phone: str) -> list[str]:
    rows = outbox(db, OutboxMessage.template == RELAY_TEMPLATE, OutboxMessage.to_phone == phone)
    return [row.params["reply"] for row in rows]


# --- the urgent story through Aliyun ---


def test_urgent_report_and_acknowledgement_through_aliyun(
    aliyun_app: Flask, aliyun: AliyunStandIn, grid: factories.GridFixture
) -> None:
    client, db = aliyun_app.test_client(), database_of(aliyun_app)
    coordinator, doctor = factories.phone_of(grid.coordinator), factories.phone_of(grid.doctor)

    response = post(client, "aliyun/up", [aliyun_up(coordinator, "急 5 胸痛")])
    assert (response.status_code, response.get_json()) == (200, ALIYUN_OK)
    [urgent] = db_rows(db, UrgentReport)
    [alert] = outbox(db, OutboxMessage.template == "sms.urgent.doctor")
    assert (alert.to_phone, alert.urgent) == (doctor, True)
    assert relayed(db, coordinator) == [
        f"已通知村医王医生（编号{urgent.code}）：5号胸痛。危急请拨120。"
    ]

    # The doctor, the county hospital beside them (chest pain is a red flag), the reply.
    assert dispatch(aliyun_app).sent == 3
    sent = {call.params["PhoneNumbers"]: call for call in aliyun.calls_of("SendSms")}
    to_doctor = sent[national(doctor)]
    assert to_doctor.params["TemplateCode"] == "SMS_106"
    assert json.loads(to_doctor.params["TemplateParam"])["code"] == urgent.code
    assert to_doctor.params["OutId"] == str(alert.id)

    report = {
        "phone_number": national(doctor),
        "send_time": "2026-11-26 10:00:01",
        "report_time": "2026-11-26 10:00:04",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": to_doctor.answer["BizId"],
        "out_id": str(alert.id),
    }
    assert post(client, "aliyun/report", [report]).get_json() == ALIYUN_OK
    [alert] = outbox(db, OutboxMessage.id == alert.id)
    assert alert.status == OutboxStatus.DELIVERED

    ack = aliyun_up(doctor, "收到")
    assert post(client, "aliyun/up", [ack]).get_json() == ALIYUN_OK
    [urgent] = db_rows(db, UrgentReport)
    assert grid.doctor is not None
    assert urgent.acknowledged_by_id == grid.doctor.id
    [told] = outbox(db, OutboxMessage.template == "sms.urgent.acknowledged")
    assert told.to_phone == coordinator
    assert relayed(db, doctor)[0].startswith(f"已确认{urgent.code}")

    # Aliyun pushes the same reply again: nothing is applied or queued twice.
    before = (count(db, InboundMessage), count(db, OutboxMessage))
    assert post(client, "aliyun/up", [ack, ack]).get_json() == ALIYUN_OK
    assert (count(db, InboundMessage), count(db, OutboxMessage)) == before


def db_rows(db: Database, model: Any) -> list[Any]:
    with db.unit_of_work() as session:
        found = list(session.scalars(select(model)))
        session.expunge_all()
        return found


# --- pushes: secrets, batches, duplicates, malformed items, unknown ids ---


@pytest.mark.parametrize("path", ["aliyun/up", "aliyun/report", "tencent/reply", "tencent/status"])
def test_a_wrong_secret_is_not_found_and_nothing_is_stored(
    aliyun_app: Flask, grid: factories.GridFixture, path: str
) -> None:
    client = aliyun_app.test_client()
    response = post(
        client, path, [aliyun_up(factories.phone_of(grid.coordinator), "好")], secret="x" * 26
    )
    assert response.status_code == 404
    assert count(database_of(aliyun_app), InboundMessage) == 0


def test_without_a_callback_secret_every_push_route_is_not_found(
    database_url: str, aliyun: AliyunStandIn, tmp_path: Path
) -> None:
    settings = aliyun_settings(aliyun.endpoint, write_template_map(tmp_path / "m.json"))
    for app in _app(database_url, {**settings, "sms_callback_secret": None}):
        response = post(app.test_client(), "aliyun/up", [], secret="None")
        assert response.status_code == 404


def test_a_batch_with_malformed_items_keeps_every_good_one(
    aliyun_app: Flask, grid: factories.GridFixture
) -> None:
    db = database_of(aliyun_app)
    batch = [
        aliyun_up(factories.phone_of(grid.coordinator), "好"),
        {
            "phone_number": national(factories.phone_of(grid.members[2])),
            "content": "好",
        },  # no sequence_id
        "not an object",
        {**aliyun_up(factories.phone_of(grid.members[3]), "好"), "sequence_id": None},
        aliyun_up(
            factories.phone_of(grid.doctor), "收到", sequence_id=777
        ),  # a number, as older pages say
    ]
    response = post(aliyun_app.test_client(), "aliyun/up", batch)
    assert (response.status_code, response.get_json()) == (200, ALIYUN_OK)
    stored = {row.message_sid: row for row in db_rows(db, InboundMessage)}
    first = batch[0]
    assert isinstance(first, dict)
    assert set(stored) == {f"aliyun:{first['sequence_id']}", "aliyun:777"}
    assert stored[f"aliyun:{first['sequence_id']}"].command == "report"


@pytest.mark.parametrize("body", ["not json", '{"broken": ', "42"])
def test_a_body_that_is_not_a_json_array_or_object_is_refused_the_aliyun_way(
    aliyun_app: Flask, body: str
) -> None:
    response = aliyun_app.test_client().post(
        f"/sms/aliyun/{CALLBACK_SECRET}/up", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == 1
    assert "JSON" in response.get_json()["msg"]


def test_carrier_unsubscribe_word_through_aliyun_opts_the_number_out(
    aliyun_app: Flask, grid: factories.GridFixture
) -> None:
    member = factories.phone_of(grid.members[4])
    assert post(aliyun_app.test_client(), "aliyun/up", [aliyun_up(member, "TD")]).status_code == 200
    with database_of(aliyun_app).unit_of_work() as session:
        assert contacts.is_opted_out(session, member)


def test_reports_for_unknown_or_mismatched_messages_change_nothing(
    aliyun_app: Flask, aliyun: AliyunStandIn, grid: factories.GridFixture
) -> None:
    client, db = aliyun_app.test_client(), database_of(aliyun_app)
    post(client, "aliyun/up", [aliyun_up(factories.phone_of(grid.coordinator), "好")])
    assert dispatch(aliyun_app).sent == 1
    [reply] = outbox(db)
    base = {
        "phone_number": national(factories.phone_of(grid.coordinator)),
        "success": False,
        "err_code": "MK:0001",
        "biz_id": reply.provider_sid,
        "out_id": str(reply.id),
    }
    batch = [
        {**base, "biz_id": "000000^0"},  # unknown BizId
        {**base, "out_id": str(reply.id + 999)},  # OutId of another message
        {**base, "phone_number": national(factories.phone_of(grid.doctor))},  # another number
        {**base, "success": "perhaps"},  # malformed
    ]
    assert post(client, "aliyun/report", batch).get_json() == ALIYUN_OK
    assert outbox(db)[0].status == OutboxStatus.SENT
    assert post(client, "aliyun/report", [base, base]).get_json() == ALIYUN_OK
    [reply] = outbox(db)
    assert (reply.status, reply.error_code) == (OutboxStatus.UNDELIVERED, "MK:0001")


def test_a_long_provider_error_code_is_kept_whole(
    aliyun_app: Flask, aliyun: AliyunStandIn, grid: factories.GridFixture
) -> None:
    client, db = aliyun_app.test_client(), database_of(aliyun_app)
    post(client, "aliyun/up", [aliyun_up(factories.phone_of(grid.coordinator), "好")])
    assert dispatch(aliyun_app).sent == 1
    [reply] = outbox(db)
    code = "isv.MOBILE_NUMBER_ILLEGAL_OR_IN_BLACKLIST"
    report = {
        "phone_number": national(factories.phone_of(grid.coordinator)),
        "success": False,
        "err_code": code,
        "biz_id": reply.provider_sid,
        "out_id": str(reply.id),
    }
    assert post(client, "aliyun/report", [report]).get_json() == ALIYUN_OK
    [reply] = outbox(db)
    assert (reply.status, reply.error_code) == (OutboxStatus.UNDELIVERED, code)


# --- Tencent ---


def tencent_reply(phone: str, text: str, at: int = 1_795_600_000) -> dict[str, Any]:
    """Tencent's reply push (cloud.tencent.com/document/api/382/59179)."""
    return {
        "extend": "",
        "mobile": national(phone),
        "nationcode": "86",
        "sign": "介休卫健",
        "text": text,
        "time": at,
    }


def test_tencent_reply_and_status_push(tencent_app: Flask, tencent: TencentStandIn) -> None:
    db = database_of(tencent_app)
    grid = _grid(db)
    client = tencent_app.test_client()
    reply = tencent_reply(factories.phone_of(grid.coordinator), "好")
    response = post(client, "tencent/reply", reply)
    assert (response.status_code, response.get_json()) == (200, TENCENT_OK)
    assert post(client, "tencent/reply", reply).get_json() == TENCENT_OK  # pushed again
    [stored] = db_rows(db, InboundMessage)
    assert stored.command == "report"
    [answer] = outbox(db)
    assert answer.params["reply"] == "已收到第48周报告：18人稳定"

    assert dispatch(tencent_app).sent == 1
    [call] = tencent.calls_of("SendSms")
    serial = call.answer["Response"]["SendStatusSet"][0]["SerialNo"]
    status = {
        "user_receive_time": "2026-11-26 10:00:05",
        "nationcode": "86",
        "mobile": national(factories.phone_of(grid.coordinator)),
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": serial,
        "ext": str(answer.id),
    }
    unknown = {**status, "sid": "2028:404"}
    response = post(client, "tencent/status", [unknown, {"mobile": "1"}, status, status])
    assert (response.status_code, response.get_json()) == (200, TENCENT_OK)
    assert outbox(db)[0].status == OutboxStatus.DELIVERED


def test_tencent_pushes_from_outside_the_allowlist_are_refused(
    database_url: str, tencent: TencentStandIn, tmp_path: Path
) -> None:
    settings = tencent_settings(tencent.endpoint, write_template_map(tmp_path / "m.json"))
    for app in _app(database_url, {**settings, "tencent_callback_ips": ("203.0.113.0/24",)}):
        client = app.test_client()
        refused = post(client, "tencent/status", [])
        allowed = post(client, "tencent/status", [], environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert (refused.status_code, allowed.status_code) == (403, 200)


# --- whatever a push holds, the good items are kept and the provider gets its answer ---

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
_up_fields = ("phone_number", "content", "send_time", "sequence_id", "dest_code", "sign_name")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    junk=st.lists(
        st.dictionaries(st.sampled_from(_up_fields), _json_values, max_size=6) | _json_values,
        max_size=4,
    ),
    text=st.text(max_size=80),
)
def test_any_batch_keeps_its_good_items_and_is_answered_the_aliyun_way(
    aliyun_app: Flask, grid: factories.GridFixture, junk: list[Any], text: str
) -> None:
    db = database_of(aliyun_app)
    good = aliyun_up(factories.phone_of(grid.coordinator), text)
    response = post(aliyun_app.test_client(), "aliyun/up", [*junk, good])
    assert (response.status_code, response.get_json()) == (200, ALIYUN_OK)
    with db.unit_of_work() as session:
        keys = set(session.scalars(select(InboundMessage.message_sid)))
    assert f"aliyun:{good['sequence_id']}" in keys
