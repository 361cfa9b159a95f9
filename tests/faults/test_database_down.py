"""The database unreachable, or failing mid-way: nothing a person sent is lost, and no
reply claims what did not happen.

The database is made unreachable by pointing the application at a port where
nothing listens; its return is the same spool replayed into the real database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy.exc import OperationalError

from config.runtime import settings_of
from grids.models import UrgentReport
from grids.storage.session import database_of
from notifications.inbound import fallback, replay_spooled, spool_of
from notifications.models import InboundMessage, OutboxMessage
from tests.support.app import make_app
from tests.support.county import THURSDAY, build_county
from tests.support.queries import count, rows
from tests.support.servers import free_port
from tests.support.webhooks import (
    callback,
    new_sid,
    post_signed,
    post_status,
    reply_of,
    twilio_form,
)

pytestmark = pytest.mark.faults

SPOOLED = "已收到短信。系统暂时故障，恢复后会处理并回复您。"
SPOOLED_URGENT = "已收到，但系统故障，尚未通知医生。急事请立即打电话给村医或拨120。"


@pytest.fixture(autouse=True)
def thursday() -> Iterator[None]:
    with time_machine.travel(THURSDAY, tick=False):
        yield


@pytest.fixture
def dead_app(app: Flask) -> Iterator[Flask]:
    """The same service and spool, but its database is at a port where nothing listens."""
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/huzhu"
    dead = make_app(unreachable, inbound_spool_dir=settings_of(app).inbound_spool_dir)
    yield dead
    database_of(dead).dispose()


def replay(app: Flask) -> int:
    database, settings = database_of(app), settings_of(app)
    return spool_of(settings).replay(lambda entry: replay_spooled(database, settings, entry))


def test_an_urgent_text_sent_while_the_database_is_down_is_kept_and_reaches_the_doctor(
    app: Flask, dead_app: Flask, db: Any
) -> None:
    county = build_county(db)
    sid = new_sid()
    form = twilio_form(county.zh.coordinator.phone, "急 5 胸痛", sid)  # type: ignore[arg-type]
    reply = reply_of(post_signed(dead_app.test_client(), form))
    assert reply == SPOOLED_URGENT
    assert count(db, InboundMessage, InboundMessage.message_sid == sid) == 0
    [kept] = spool_of(settings_of(app)).pending()
    assert kept.params["MessageSid"] == sid

    # The database is back: the spool is stored as of when the text arrived.
    assert replay(app) == 1
    [message] = rows(db, InboundMessage, InboundMessage.message_sid == sid)
    assert (message.message_sid, message.outcome, message.received_at) == (sid, "applied", THURSDAY)
    assert count(db, UrgentReport) == 1
    sent = {row.template: row for row in rows(db, OutboxMessage)}
    assert sent["sms.urgent.doctor"].to_phone == county.zh.doctor.phone  # type: ignore[union-attr]
    # The sender could not be told the outcome then: it comes as an SMS now.
    assert sent["sms.relay.reply"].to_phone == county.zh.coordinator.phone
    assert sent["sms.relay.reply"].body == message.reply
    assert spool_of(settings_of(app)).is_empty()


def test_a_replayed_message_and_a_twilio_retry_are_stored_once(
    app: Flask, dead_app: Flask, db: Any
) -> None:
    county = build_county(db)
    form = twilio_form(county.zh.coordinator.phone, "好", new_sid())  # type: ignore[arg-type]
    dead = dead_app.test_client()
    assert reply_of(post_signed(dead, form)) == SPOOLED
    assert reply_of(post_signed(dead, form)) == SPOOLED  # Twilio's retry, spooled again
    assert replay(app) == 2
    assert replay(app) == 0
    assert count(db, InboundMessage) == 1
    assert reply_of(post_signed(app.test_client(), form)) == rows(db, InboundMessage)[0].reply
    assert count(db, OutboxMessage) == 1  # the one deferred reply


def test_a_replay_while_the_database_is_still_down_keeps_every_message(
    dead_app: Flask, db: Any
) -> None:
    county = build_county(db)
    for body in ("好", "急 5 胸痛"):
        post_signed(dead_app.test_client(), twilio_form(county.zh.coordinator.phone, body))  # type: ignore[arg-type]
    with pytest.raises(OperationalError):
        replay(dead_app)
    assert len(spool_of(settings_of(dead_app)).pending()) == 2


def test_when_even_the_spool_cannot_be_written_twilio_is_told_to_use_the_fallback_url(
    app: Flask, db: Any, tmp_path: Path
) -> None:
    county = build_county(db)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/huzhu"
    dead = make_app(unreachable, inbound_spool_dir=str(blocked / "spool"))
    try:
        response = post_signed(
            dead.test_client(),
            twilio_form(county.zh.coordinator.phone, "急 5 胸痛"),  # type: ignore[arg-type]
        )
    finally:
        database_of(dead).dispose()
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"


def test_a_failure_mid_way_never_claims_a_forward_that_was_not_stored(
    app: Flask, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler fails, then the database dies before the fallback's forward commits:
    the reply must not say the text was passed to the doctor."""
    county = build_county(db)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("escalation failed")

    def database_dies(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr("notifications.inbound.urgent.report_urgent", broken)
    original_forward = fallback._forward_raw

    def forward_then_die(session: Any, *args: Any) -> bool:
        forwarded = original_forward(session, *args)
        monkeypatch.setattr(session, "commit", database_dies)
        return forwarded

    monkeypatch.setattr("notifications.inbound.fallback._forward_raw", forward_then_die)
    sid = new_sid()
    reply = reply_of(
        post_signed(app.test_client(), twilio_form(county.zh.coordinator.phone, "急 5 胸痛", sid))  # type: ignore[arg-type]
    )
    assert reply == SPOOLED_URGENT
    assert count(db, InboundMessage) == count(db, OutboxMessage) == 0
    monkeypatch.undo()
    assert replay(app) == 1
    assert count(db, UrgentReport) == 1


@pytest.mark.parametrize("path", ["/", "/api/v1/summary", "/sms/twilio/status"])
def test_pages_and_webhooks_answer_503_when_the_database_is_down(
    dead_app: Flask, path: str
) -> None:
    client = dead_app.test_client()
    if path == "/sms/twilio/status":
        response = post_status(client, callback(status="delivered"))
    else:
        # An API client with a token: checking it needs the database too.
        response = client.get(path, headers={"Authorization": "Bearer some-token"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"
