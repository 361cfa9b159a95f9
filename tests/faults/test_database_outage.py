"""PostgreSQL cut away under the real gunicorn: an urgent text sent meanwhile is kept in
the spool, answered honestly, and stored by the web process itself once the database
is back, within 30 seconds, with no other process running."""

from __future__ import annotations

import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from grids.models import UrgentReport
from notifications.models import InboundMessage, OutboxMessage
from tests.support.county import build_county
from tests.support.proxy import SwitchableProxy
from tests.support.queries import count
from tests.support.servers import gunicorn
from tests.support.webhooks import twilio_form

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

TOKEN = "test-auth-token"
BASE = "https://huzhu.example.org"
REPLAY_DEADLINE_SECONDS = 30


def post_inbound(port: int, form: dict[str, str]) -> tuple[int, str]:
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/sms/twilio/inbound", form)
    connection = HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request(
            "POST",
            "/sms/twilio/inbound",
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_an_urgent_text_survives_a_database_outage(
    database_url: str, db: Any, tmp_path: Path
) -> None:
    county = build_county(db)
    url = make_url(database_url)
    proxy = SwitchableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    try:
        _outage(county, proxy, url.set(host="127.0.0.1", port=proxy.port), tmp_path / "spool", db)
    finally:
        proxy.down()
    assert count(db, UrgentReport) == 1
    assert count(db, OutboxMessage, OutboxMessage.template == "sms.urgent.doctor") == 1


def _outage(county: Any, proxy: SwitchableProxy, through: Any, spool: Path, db: Any) -> None:
    with gunicorn(
        through.render_as_string(hide_password=False),
        TWILIO_AUTH_TOKEN=TOKEN,
        PUBLIC_BASE_URL=BASE,
        INBOUND_SPOOL_DIR=str(spool),
        SMS_BACKEND="memory",
    ) as port:
        proxy.down()
        status, reply = post_inbound(port, twilio_form(county.zh.coordinator.phone, "急 5 胸痛"))
        assert status == 200
        assert "尚未通知医生" in reply and "120" in reply
        assert count(db, InboundMessage) == 0
        assert (spool / "inbound.jsonl").stat().st_size > 0

        proxy.up()
        back = time.monotonic()
        # Replayed: stored, then the spool emptied (after the sender's reply is queued).
        while count(db, InboundMessage) == 0 or (spool / "inbound.jsonl").stat().st_size:
            assert time.monotonic() - back < REPLAY_DEADLINE_SECONDS, "spool not replayed"
            time.sleep(0.5)
