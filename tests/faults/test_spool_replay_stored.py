"""A message committed just before the connection dropped was also spooled, and its
sender told to wait: the replay finds it stored and sends the stored reply, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask

from config.runtime import settings_of
from grids.models import WeeklyReport
from grids.storage.session import database_of
from notifications.inbound import replay_spooled, spool_of
from notifications.models import InboundMessage, OutboxMessage
from tests.support.app import make_app
from tests.support.county import THURSDAY, build_county
from tests.support.queries import count, rows
from tests.support.servers import free_port
from tests.support.webhooks import new_sid, post_signed, reply_of, twilio_form

pytestmark = pytest.mark.faults

SPOOLED = "已收到短信。系统暂时故障，恢复后会处理并回复您。"


@pytest.fixture(autouse=True)
def thursday() -> Iterator[None]:
    with time_machine.travel(THURSDAY, tick=False):
        yield


@pytest.fixture
def dead_app(app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """The same service and spool, but its database is at a port where nothing listens."""
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/huzhu"
    dead = make_app(unreachable, inbound_spool_dir=settings_of(app).inbound_spool_dir)
    yield dead
    database_of(dead).dispose()


def replay(app: Flask) -> int:
    database, settings = database_of(app), settings_of(app)
    return spool_of(settings).replay(lambda entry: replay_spooled(database, settings, entry))


def test_a_stored_message_that_was_also_spooled_gets_its_reply_exactly_once(
    app: Flask, dead_app: Flask, db: Any
) -> None:
    county = build_county(db)
    sid = new_sid()
    form = twilio_form(county.zh.coordinator.phone, "好 5 血压165/100", sid)  # type: ignore[arg-type]
    # The message is committed, but the answer is lost with the connection: the
    # sender is told to wait, twice (Twilio retries while the database is away).
    stored_reply = reply_of(post_signed(app.test_client(), form))
    assert reply_of(post_signed(dead_app.test_client(), form)) == SPOOLED
    assert reply_of(post_signed(dead_app.test_client(), form)) == SPOOLED
    assert count(db, OutboxMessage) == 0

    assert replay(app) == 2
    assert replay(app) == 0
    [message] = rows(db, InboundMessage)
    assert message.reply == stored_reply
    [relayed] = rows(db, OutboxMessage)
    assert (relayed.idempotency_key, relayed.to_phone, relayed.body) == (
        f"reply:{sid}",
        county.zh.coordinator.phone,
        stored_reply,
    )
    [report] = rows(db, WeeklyReport)
    assert report.revisions == 1
