"""Mainland pushes have a documented size: a batch at the limit is stored whole and
every item applied; one past it gets 413 the provider's way and stores nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from config.runtime import settings_of
from grids.storage.database import Database
from grids.storage.session import database_of
from notifications import inbound
from notifications.mainland import pushes
from notifications.models import InboundMessage, OutboxMessage
from notifications.provider_templates import RELAY_TEMPLATE
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import CALLBACK_SECRET, aliyun_settings, write_template_map
from tests.support.mainland_standins import AliyunStandIn

THURSDAY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
UP = f"/sms/aliyun/{CALLBACK_SECRET}/up"
LIMIT = 40


@pytest.fixture(autouse=True)
def thursday() -> Iterator[None]:
    with time_machine.travel(THURSDAY, tick=False):
        yield


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    # The documented limits, scaled down; chunks smaller than the batch.
    monkeypatch.setattr(pushes, "MAX_PUSH_ITEMS", LIMIT)
    monkeypatch.setattr(pushes, "STORE_CHUNK", 7)


@pytest.fixture
def app(database_url: str, aliyun: AliyunStandIn, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    application = make_app(database_url, **aliyun_settings(aliyun.endpoint, template_map))
    yield application
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


def batch(size: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "phone_number": f"139{index:08d}",
            "send_time": "2026-11-26 10:00:00",
            "content": "好",
            "sign_name": "介休卫健",
            "dest_code": "1234",
            "sequence_id": 500_000 + index,
        }
        for index in range(start, start + size)
    ]


def post(app: Flask, payload: Any) -> Any:
    body = json.dumps(payload, ensure_ascii=False)
    return app.test_client().post(UP, data=body, content_type="application/json")


def counts(db: Database) -> tuple[int, int, int]:
    with db.unit_of_work() as session:
        stored = session.scalar(select(func.count()).select_from(InboundMessage)) or 0
        waiting = (
            session.scalar(
                select(func.count())
                .select_from(InboundMessage)
                .where(InboundMessage.outcome == "received")
            )
            or 0
        )
        answers = (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.template == RELAY_TEMPLATE)
            )
            or 0
        )
    return stored, waiting, answers


def test_a_batch_at_the_limit_is_stored_whole_and_every_item_applied(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Applied before the answer however loaded the machine (the time to answer and the
    # applying after it are the next test's).
    monkeypatch.setattr(pushes, "APPLY_SECONDS", None)
    response = post(app, batch(LIMIT))
    assert response.status_code == 200
    assert response.get_json() == {"code": 0, "msg": "接收成功"}
    assert counts(database_of(app)) == (LIMIT, 0, LIMIT)
    # The provider's repeat of the batch changes nothing.
    assert post(app, batch(LIMIT)).status_code == 200
    assert counts(database_of(app)) == (LIMIT, 0, LIMIT)


def test_one_item_over_the_limit_is_413_and_nothing_is_stored(app: Flask) -> None:
    response = post(app, batch(LIMIT + 1))
    assert response.status_code == 413
    body = response.get_json()
    assert body["code"] != 0 and str(LIMIT) in body["msg"]
    assert counts(database_of(app)) == (0, 0, 0)


def test_a_body_over_the_byte_limit_is_413_before_it_is_read(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = batch(10)
    monkeypatch.setattr(
        pushes, "MAX_PUSH_BYTES", len(json.dumps(payload, ensure_ascii=False).encode()) - 1
    )
    response = post(app, payload)
    assert response.status_code == 413
    assert response.get_json()["code"] != 0
    assert counts(database_of(app)) == (0, 0, 0)


def test_items_past_the_time_to_answer_are_stored_and_applied_after_the_answer(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pushes, "APPLY_SECONDS", 0.0)
    response = post(app, batch(LIMIT))
    assert response.status_code == 200
    stored, _waiting, _answers = counts(database_of(app))
    assert stored == LIMIT
    deadline = time.monotonic() + 60
    while counts(database_of(app)) != (LIMIT, 0, LIMIT):
        assert time.monotonic() < deadline, counts(database_of(app))
        time.sleep(0.1)


def test_replies_stored_but_never_applied_are_applied_by_reconciliation(app: Flask) -> None:
    database, settings = database_of(app), settings_of(app)
    messages = [pushes.aliyun_reply(item) for item in batch(3)]
    inbound.store_received(database, messages, THURSDAY, chunk=2)  # the process stopped here
    assert counts(database) == (3, 3, 0)
    assert pushes.apply_waiting(database, settings, THURSDAY) == 3
    assert counts(database) == (3, 0, 3)
    assert pushes.apply_waiting(database, settings, THURSDAY) == 0
