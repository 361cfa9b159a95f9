"""`outbox dispatch`, `outbox list`, `outbox numbers`, `outbox unflag`, `outbox send-test`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from notifications import contacts
from notifications.outbox import enqueue
from notifications.providers import PermanentSendError, provider_of
from notifications.providers.memory import MemoryProvider

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def provider(app: Flask) -> MemoryProvider:
    memory = provider_of(app)
    assert isinstance(memory, MemoryProvider)
    return memory


def queue(session: Session, n: int, **changes: object) -> None:
    values: dict[str, object] = {
        "key": f"k{n}",
        "phone": f"+86139{n:08d}",
        "language": "zh_CN",
        "template": "sms.test",
        "urgent": True,  # not held by quiet hours, whatever time the suite runs
    }
    values.update(changes)
    enqueue(session, Notice(**values), now=NOW)  # type: ignore[arg-type]
    session.commit()


def test_dispatch_once_sends_what_is_due_and_says_so(
    runner: FlaskCliRunner, session: Session, provider: MemoryProvider
) -> None:
    queue(session, 1)
    queue(session, 2)
    result = runner.invoke(args=["outbox", "dispatch", "--once", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "claimed 1" in result.output and "sent 1" in result.output
    result = runner.invoke(args=["outbox", "dispatch", "--once"])
    assert "sent 1" in result.output
    assert len(provider.sent) == 2


def test_list_shows_what_went_to_whom_with_numbers_masked(
    runner: FlaskCliRunner, session: Session, provider: MemoryProvider
) -> None:
    queue(session, 1)
    queue(session, 2)
    provider.fail_next(PermanentSendError("21211", "invalid"))
    runner.invoke(args=["outbox", "dispatch", "--once"])

    result = runner.invoke(args=["outbox", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "编号", "创建时间", "收信人", "模板", "状态", "尝试次数", "服务商编号", "错误码", "紧急",
    ]  # fmt: skip
    assert "+86139****0001" in result.output and "+86139****0002" in result.output
    assert "00000001" not in result.output
    assert "21211" in result.output
    assert provider.sids[0] in result.output


def test_list_as_json_filters_by_status(
    runner: FlaskCliRunner, session: Session, provider: MemoryProvider
) -> None:
    queue(session, 1)
    queue(session, 2)
    provider.fail_next(PermanentSendError("21610", "unsubscribed"))
    runner.invoke(args=["outbox", "dispatch", "--once"])

    result = runner.invoke(args=["outbox", "list", "--status", "failed", "--format", "json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)["items"]
    assert item["status"] == "failed"
    assert item["error_code"] == "21610"
    assert item["to"].startswith("+86139****")
    assert item["template"] == "sms.test"
    assert item["attempts"] == 1
    assert item["urgent"] is True
    assert set(item) == {
        "id", "created", "to", "template", "status", "attempts", "provider_sid", "error_code",
        "urgent",
    }  # fmt: skip
    sent = json.loads(runner.invoke(args=["outbox", "list", "--format", "json"]).output)
    assert len(sent["items"]) == 2
    assert sent["items"][0]["provider_sid"] == provider.sids[0]


def test_list_refuses_an_unknown_status(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["outbox", "list", "--status", "lost"])
    assert result.exit_code != 0
    assert "lost" in result.output


def test_numbers_lists_opted_out_and_invalid_numbers_masked(
    runner: FlaskCliRunner, session: Session
) -> None:
    assert runner.invoke(args=["outbox", "numbers"]).output == "没有退订或无效的号码\n"
    contacts.opt_out(session, "+8613900000001", "退订", NOW)
    contacts.mark_invalid(session, "+8613900000002", "21614", NOW)
    session.commit()
    result = runner.invoke(args=["outbox", "numbers"])
    assert "+86139****0001" in result.output and "opted_out" in result.output
    assert "+86139****0002" in result.output and "21614" in result.output
    items = json.loads(runner.invoke(args=["outbox", "numbers", "--format", "json"]).output)
    assert {(i["phone"], i["reason"]) for i in items["items"]} == {
        ("+86139****0001", "opted_out"),
        ("+86139****0002", "invalid"),
    }


def test_unflag_clears_an_invalid_number(runner: FlaskCliRunner, session: Session) -> None:
    contacts.mark_invalid(session, "+8613900000002", "21211", NOW)
    session.commit()
    result = runner.invoke(args=["outbox", "unflag", "139 0000 0002"])
    assert result.exit_code == 0, result.output
    assert not contacts.is_invalid(session, "+8613900000002")
    again = runner.invoke(args=["outbox", "unflag", "13900000002"])
    assert again.exit_code == 1
    assert "+86139****0002 没有被标记为无效号码" in again.output


def test_unflag_refuses_a_bad_number(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["outbox", "unflag", "12345"])
    assert result.exit_code == 2
    assert "“12345”不是电话号码（invalid）" in result.output


def test_send_test_queues_a_message_the_dispatcher_sends(
    runner: FlaskCliRunner, provider: MemoryProvider
) -> None:
    result = runner.invoke(args=["outbox", "send-test", "--to", "13900000009", "--language", "en"])
    assert result.exit_code == 0, result.output
    assert "+86139****0009" in result.output
    runner.invoke(args=["outbox", "dispatch", "--once"])
    [message] = provider.sent
    assert message.to == "+8613900000009"
    assert message.body.startswith("Huzhu SMS test")
