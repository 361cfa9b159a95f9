"""Garbage through the signed Twilio webhook: the correction, and nothing stored changes."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote_from_bytes, urlencode

import pytest
import time_machine

from grids.models import MemberReport, Reading, UrgentReport, WeeklyReport
from grids.storage.database import Database
from notifications.models import InboundMessage, OutboxMessage
from notifications.sms import grammar
from notifications.sms.commands import ParseError
from tests.support.county import THURSDAY, County, build_county
from tests.support.queries import count, rows
from tests.support.webhooks import INBOUND, reply_of, send, signature_for, twilio_form

UNREADABLE = ParseError("unrecognised", {"hint": None})
CORRECTION = grammar.error_text(UNREADABLE, "zh_CN")


@pytest.fixture
def county(db: Database) -> County:
    return build_county(db)


@pytest.fixture(autouse=True)
def thursday() -> Iterator[None]:
    with time_machine.travel(THURSDAY, tick=False):
        yield


def _stored(db: Database) -> tuple[int, ...]:
    return tuple(
        count(db, model)
        for model in (WeeklyReport, MemberReport, Reading, UrgentReport, OutboxMessage)
    )


@pytest.mark.parametrize(
    "body", ["<script>alert(1)</script>", "\ufffd好\ufffd", "\x00好\x07", "好 <b>5</b> 血压150/95"]
)
def test_garbage_gets_the_correction_and_nothing_changes(client, db, county, body) -> None:
    phone = county.zh.coordinator.phone
    send(client, phone, "好 5 血压165/100")
    before = _stored(db)
    reply = send(client, phone, body)
    # Markup is read as English: the correction comes in the language it was written in.
    assert reply in (CORRECTION, grammar.error_text(UNREADABLE, "en"))
    assert _stored(db) == before
    [report] = rows(db, WeeklyReport)
    assert report.revisions == 1
    assert rows(db, InboundMessage)[-1].outcome == "rejected"


def test_invalid_utf8_bytes_around_ok_do_not_amend_the_report(client, db, county) -> None:
    phone = county.zh.coordinator.phone
    send(client, phone, "好 5 血压165/100")
    before = _stored(db)
    # The body's bytes are not UTF-8 around `好`: the server leaves them percent-escaped.
    form = twilio_form(phone, "%FF好%FE")
    raw = urlencode({k: v for k, v in form.items() if k != "Body"})
    raw += "&Body=" + quote_from_bytes(b"\xff" + "好".encode() + b"\xfe")
    response = client.post(
        INBOUND,
        data=raw,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature_for(form)},
    )
    assert reply_of(response) == CORRECTION
    assert _stored(db) == before
