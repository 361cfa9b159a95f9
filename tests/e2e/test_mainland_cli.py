"""`outbox templates list|check` and `outbox reconcile` for the mainland backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from config.runtime import settings_of
from grids.storage.session import database_of
from notifications.dispatcher import dispatch_once
from notifications.models import InboundMessage, OutboxMessage, OutboxStatus
from notifications.provider_templates import RELAY_TEMPLATE, SENT_TEMPLATES
from notifications.providers import provider_of
from tests.support import factories
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import aliyun_settings, tencent_settings, write_template_map
from tests.support.mainland_standins import AliyunStandIn, TencentStandIn

THURSDAY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


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
def tencent_app(database_url: str, tencent: TencentStandIn, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json", leave_out=("sms.test",))
    yield from _app(database_url, tencent_settings(tencent.endpoint, template_map))


@pytest.fixture
def aliyun_app(database_url: str, aliyun: AliyunStandIn, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    yield from _app(database_url, aliyun_settings(aliyun.endpoint, template_map))


def test_templates_list_prints_what_to_submit_for_the_configured_backend(
    tencent_app: Flask,
) -> None:
    result = tencent_app.test_cli_runner().invoke(
        args=["outbox", "templates", "list", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)["items"]
    assert len(items) == 2 * len(SENT_TEMPLATES)
    by_key = {(item["name"], item["language"]): item for item in items}
    ack = by_key[("sms.urgent.acknowledged", "zh_CN")]
    assert ack == {
        "name": "sms.urgent.acknowledged",
        "language": "zh_CN",
        "text": "村医{1}{2}{3}已收到紧急报告{4}{5}，正在处理。",
        "variables": ["doctor_1", "doctor_2", "doctor_3", "code_1", "code_2"],
    }


def test_templates_list_for_another_backend_and_refused_for_twilio(
    tencent_app: Flask, app: Flask
) -> None:
    result = tencent_app.test_cli_runner().invoke(
        args=["outbox", "templates", "list", "--backend", "aliyun"]
    )
    assert "sms.urgent.doctor\tzh_CN\t[急]${grid}网格" in result.output
    refused = app.test_cli_runner().invoke(args=["outbox", "templates", "list"])
    assert refused.exit_code == 1
    assert "SMS_BACKEND=memory" in refused.output


def test_templates_check_lists_every_gap_and_exits_1(tencent_app: Flask) -> None:
    result = tencent_app.test_cli_runner().invoke(args=["outbox", "templates", "check"])
    assert result.exit_code == 1
    assert "缺少 2 个 tencent 模板编号" in result.output
    assert "zh_CN sms.test" in result.output and "en sms.test" in result.output


def test_templates_check_passes_with_a_complete_map(aliyun_app: Flask) -> None:
    result = aliyun_app.test_cli_runner().invoke(args=["outbox", "templates", "check"])
    assert result.exit_code == 0, result.output
    assert f"已有全部 {2 * len(SENT_TEMPLATES)} 个 aliyun 模板编号" in result.output


# --- reconciliation ---


def _dispatch(app: Flask) -> None:
    dispatch_once(database_of(app), provider_of(app), settings_of(app), now=THURSDAY)


def test_reconcile_pulls_missed_tencent_replies_and_statuses_once(
    tencent_app: Flask, tencent: TencentStandIn
) -> None:
    db = database_of(tencent_app)
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=18)
        session.commit()
        coordinator = factories.phone_of(grid.coordinator)
    client = tencent_app.test_client()
    pushed = {"mobile": coordinator[3:], "nationcode": "86", "text": "好", "time": 1_795_600_000}
    client.post(f"/sms/tencent/{'cb-secret-0123456789abcdef'}/reply", json=pushed)
    _dispatch(tencent_app)
    [answer] = list_outbox(tencent_app)
    assert answer.status == OutboxStatus.SENT
    tencent.replies.extend(
        [
            {
                "PhoneNumber": coordinator,
                "ReplyContent": "好",
                "ReplyTime": 1_795_600_000,
                "SignName": "介休卫健",
                "ExtendCode": "",
                "CountryCode": "86",
                "SubscriberNumber": coordinator[3:],
            },
            {
                "PhoneNumber": coordinator,
                "ReplyContent": "到 15",
                "ReplyTime": 1_795_600_900,
                "SignName": "介休卫健",
                "ExtendCode": "",
                "CountryCode": "86",
                "SubscriberNumber": coordinator[3:],
            },
        ]
    )
    tencent.statuses.append(
        {
            "PhoneNumber": coordinator,
            "SerialNo": answer.provider_sid,
            "ReportStatus": "SUCCESS",
            "Description": "DELIVRD",
            "SessionContext": str(answer.id),
            "UserReceiveTime": 1_795_600_005,
            "CountryCode": "86",
            "SubscriberNumber": coordinator[3:],
        }
    )
    runner = tencent_app.test_cli_runner()
    result = runner.invoke(args=["outbox", "reconcile", "--at", "2026-11-26T10:30:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "补收回复 1 条，回执 1 条" in result.output
    with db.unit_of_work() as session:
        commands = sorted(m.command or "" for m in session.scalars(select(InboundMessage)))
    assert commands == ["attendance", "report"]
    assert list_outbox(tencent_app)[0].status == OutboxStatus.DELIVERED
    again = runner.invoke(args=["outbox", "reconcile", "--at", "2026-11-26T10:31:00+08:00"])
    assert "补收回复 0 条，回执 0 条" in again.output
    calls = tencent.calls_of("PullSmsReplyStatusByPhoneNumber")
    assert calls[0].params["PhoneNumber"] == coordinator


def test_reconcile_asks_aliyun_for_the_send_details_of_unreported_messages(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    db = database_of(aliyun_app)
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=18)
        session.commit()
        coordinator = factories.phone_of(grid.coordinator)
    aliyun_app.test_client().post(
        "/sms/aliyun/cb-secret-0123456789abcdef/up",
        json=[
            {
                "phone_number": coordinator[3:],
                "content": "好",
                "send_time": "2026-11-26 10:00:00",
                "dest_code": "1",
                "sequence_id": "9",
            }
        ],
    )
    _dispatch(aliyun_app)
    [answer] = list_outbox(aliyun_app)
    aliyun.send_details.append(
        {
            "PhoneNum": coordinator[3:],
            "SendStatus": 2,
            "ErrCode": "MK:0005",
            "OutId": str(answer.id),
            "TemplateCode": "SMS_112",
            "Content": "…",
            "SendDate": "2026-11-26 10:00:00",
            "ReceiveDate": "2026-11-26 10:00:03",
        }
    )
    result = aliyun_app.test_cli_runner().invoke(args=["outbox", "reconcile"])
    assert result.exit_code == 0, result.output
    [call] = aliyun.calls_of("QuerySendDetails")
    assert (call.params["SendDate"], call.params["BizId"]) == ("20261126", answer.provider_sid)
    [answer] = list_outbox(aliyun_app)
    assert (answer.status, answer.error_code) == (OutboxStatus.UNDELIVERED, "MK:0005")


def list_outbox(app: Flask) -> list[OutboxMessage]:
    with database_of(app).unit_of_work() as session:
        found = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.template == RELAY_TEMPLATE))
        )
        session.expunge_all()
        return found
