"""`mainland-reconcile` in the running scheduler: delivery reports the pushes missed are
pulled from the provider (local stand-ins of the official APIs), on a fixed clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import Row, select

from config.runtime import settings_of
from config.settings import parse_quiet_hours
from grids.core.notices import Notice
from grids.storage.session import database_of
from notifications.dispatcher import dispatch_once
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import enqueue
from notifications.providers import provider_of
from scheduling.models import SchedulerRun
from scheduling.process import SchedulerProcess
from scheduling.registry import scheduled_jobs
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import aliyun_settings, tencent_settings, write_template_map
from tests.support.mainland_standins import AliyunStandIn, TencentStandIn

# Thursday 26 November 2026, 10:05 in the county: the 10:00 slot of the job.
NOW = datetime(2026, 11, 26, 2, 5, tzinfo=UTC)
PHONE = "+8613912345678"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _app(database_url: str, settings: dict[str, Any]) -> Iterator[Flask]:
    # Quiet hours off: the other jobs of the scheduler may run at this hour as they like.
    application = make_app(database_url, quiet_hours=parse_quiet_hours("00:00-00:00"), **settings)
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
def memory_app(database_url: str) -> Iterator[Flask]:
    yield from _app(database_url, {})


def _sent_message(app: Flask) -> Row[Any]:
    """A test SMS handed to the provider an hour ago, its delivery report not pushed."""
    with app.app_context(), database_of(app).unit_of_work() as session:
        notice = Notice.to_phone(PHONE, key="test:reconcile", language="zh_CN", template="sms.test")
        assert enqueue(session, notice, now=NOW) is not None
        session.commit()
    stats = dispatch_once(database_of(app), provider_of(app), settings_of(app), now=NOW)
    assert stats.sent == 1
    return _message(app)


def _message(app: Flask) -> Row[Any]:
    """The test SMS's outbox row: id, status, provider_sid, error_code."""
    with database_of(app).unit_of_work() as session:
        return session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.status,
                OutboxMessage.provider_sid,
                OutboxMessage.error_code,
            ).where(OutboxMessage.template == "sms.test")
        ).one()


def _run_scheduler_until(app: Flask, done: Any) -> None:
    """Run the scheduler process (as `scheduler run` does) until `done()` or 60 s."""
    stop = threading.Event()
    process = SchedulerProcess(database_of(app), settings_of(app), provider_of(app), stop=stop)
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    try:
        for _ in range(300):
            if done():
                break
            stop.wait(0.2)
    finally:
        process.request_stop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def _reconciled(app: Flask) -> bool:
    with database_of(app).unit_of_work() as session:
        return (
            session.scalar(
                select(SchedulerRun.status).where(SchedulerRun.job_id == "mainland-reconcile")
            )
            == "ok"
        )


def test_the_scheduler_pulls_an_aliyun_delivery_report_the_push_missed(
    aliyun_app: Flask, aliyun: AliyunStandIn
) -> None:
    message = _sent_message(aliyun_app)
    assert message.status == OutboxStatus.SENT
    aliyun.send_details.append(
        {
            "PhoneNum": PHONE[3:],
            "SendStatus": 3,
            "ErrCode": "DELIVERED",
            "OutId": str(message.id),
            "TemplateCode": "SMS_101",
            "Content": "互助短信测试",
            "SendDate": "2026-11-26 10:05:00",
            "ReceiveDate": "2026-11-26 10:05:04",
        }
    )

    _run_scheduler_until(aliyun_app, lambda: _reconciled(aliyun_app))

    assert _message(aliyun_app).status == OutboxStatus.DELIVERED
    [call] = aliyun.calls_of("QuerySendDetails")
    assert (call.params["SendDate"], call.params["BizId"]) == ("20261126", message.provider_sid)
    with database_of(aliyun_app).unit_of_work() as session:
        [(slot, result)] = session.execute(
            select(SchedulerRun.slot, SchedulerRun.result).where(
                SchedulerRun.job_id == "mainland-reconcile"
            )
        )
    assert slot == "2026-11-26T10:00"
    assert result == {
        "queued": 0,
        "cleared": 0,
        "missed": 0,
        "skipped": 0,
        "sent": 0,
        "note": "1 delivery reports, 0 replies pulled",
    }


def test_the_scheduler_pulls_a_tencent_delivery_failure_the_push_missed(
    tencent_app: Flask, tencent: TencentStandIn
) -> None:
    message = _sent_message(tencent_app)
    tencent.statuses.append(
        {
            "PhoneNumber": PHONE,
            "SerialNo": message.provider_sid,
            "ReportStatus": "FAIL",
            "Description": "MK:0005",
            "SessionContext": str(message.id),
            "UserReceiveTime": int(NOW.timestamp()) + 4,
            "CountryCode": "86",
            "SubscriberNumber": PHONE[3:],
        }
    )

    _run_scheduler_until(tencent_app, lambda: _reconciled(tencent_app))

    failed = _message(tencent_app)
    assert (failed.status, failed.error_code) == (OutboxStatus.UNDELIVERED, "MK:0005")
    assert [
        c.params["PhoneNumber"] for c in tencent.calls_of("PullSmsSendStatusByPhoneNumber")
    ] == [PHONE]


def test_without_a_mainland_provider_the_job_is_not_scheduled(memory_app: Flask) -> None:
    settings = settings_of(memory_app)
    assert "mainland-reconcile" not in [spec.id for spec in scheduled_jobs(settings)]
    runner = memory_app.test_cli_runner()
    listed = runner.invoke(args=["scheduler", "jobs", "--format", "json"])
    [item] = [i for i in json.loads(listed.output)["items"] if i["id"] == "mainland-reconcile"]
    assert item["next_run"] is None
    assert "SMS_BACKEND=memory" in item["note"]
    refused = runner.invoke(args=["scheduler", "run-once", "mainland-reconcile"])
    assert refused.exit_code != 0
    assert "SMS_BACKEND=memory" in refused.output
