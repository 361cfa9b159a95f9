"""The twilio provider with the real `twilio.rest.Client` against a local stand-in for Twilio.

The stand-in (`tests/twilio_standin.py`) checks every request against Twilio's
OpenAPI description of the Messages API and answers as scripted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from config.runtime import settings_of
from config.settings import Settings
from grids.core.notices import Notice
from grids.storage.database import Database
from notifications import contacts
from notifications.dispatcher import dispatch_once
from notifications.models import OutboxMessage
from notifications.outbox import enqueue
from notifications.providers import OutgoingMessage, SendError
from notifications.providers.twilio import ISOLATED_ENVIRONMENT, BaseUrlHttpClient, TwilioProvider
from tests.support.twilio_standin import TwilioStandIn

ACCOUNT = "AC" + "0" * 32
TOKEN = "test-auth-token"
FROM = "+15005550006"
SERVICE = "MG" + "ab" * 16
CALLBACK = "https://huzhu.example.org/sms/twilio/status"
DAY = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
PHONE = "+8613912345678"
MESSAGE = OutgoingMessage(
    to=PHONE, template="sms.test", params={}, language="zh_CN", body="互助短信测试"
)


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(ACCOUNT, TOKEN) as server:
        yield server


@pytest.fixture
def settings(app: Flask) -> Settings:
    return settings_of(app)


def make_provider(standin: TwilioStandIn, **changes: object) -> TwilioProvider:
    values: dict[str, object] = {
        "account_sid": ACCOUNT,
        "auth_token": TOKEN,
        "from_number": FROM,
        "status_callback": CALLBACK,
        "api_base_url": standin.base_url,
        "timeout": 0.5,
    }
    values.update(changes)
    return TwilioProvider(**values)  # type: ignore[arg-type]


@pytest.fixture
def provider(standin: TwilioStandIn) -> Iterator[TwilioProvider]:
    twilio = make_provider(standin)
    yield twilio
    twilio.close()


def add(db: Database, key: str = "reminder:grid-12:2026-W48:member-5", phone: str = PHONE) -> int:
    with db.unit_of_work() as session:
        row = enqueue(
            session,
            Notice(key=key, phone=phone, language="zh_CN", template="sms.test"),
            now=DAY,
        )
        session.commit()
    assert row is not None
    return row.id


def one(db: Database, row_id: int) -> OutboxMessage:
    with db.unit_of_work() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.id == row_id)).one()
        session.expunge(row)
    return row


def test_the_library_sends_what_twilio_expects_and_the_row_gets_the_sid(
    db: Database, standin: TwilioStandIn, provider: TwilioProvider, settings: Settings
) -> None:
    row_id = add(db)
    stats = dispatch_once(db, provider, settings, now=DAY)
    assert stats.sent == 1

    [request] = standin.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request.basic_auth == (ACCOUNT, TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.answered == 201
    assert request.form == {
        "To": [PHONE],
        "From": [FROM],
        "Body": ["互助短信测试：收到此短信说明短信通道工作正常，无需回复。"],
        "StatusCallback": [CALLBACK],
    }
    row = one(db, row_id)
    assert row.status == "sent"
    assert row.provider == "twilio"
    assert row.provider_sid == standin.created[0]["sid"]
    assert row.provider_sid is not None and row.provider_sid.startswith("SM")


def test_a_messaging_service_sends_instead_of_a_from_number(
    db: Database, standin: TwilioStandIn, settings: Settings
) -> None:
    provider = make_provider(standin, from_number=None, messaging_service_sid=SERVICE)
    row_id = add(db)
    dispatch_once(db, provider, settings, now=DAY)
    provider.close()
    [request] = standin.requests
    assert request.value("MessagingServiceSid") == SERVICE
    assert request.value("From") is None
    assert one(db, row_id).status == "sent"


def test_429_is_retried_after_retry_after_then_sent(
    db: Database, standin: TwilioStandIn, provider: TwilioProvider, settings: Settings
) -> None:
    row_id = add(db)
    standin.script(standin.error(429, 20429, "Too Many Requests", retry_after=120))
    stats = dispatch_once(db, provider, settings, now=DAY)
    assert stats.retried == 1
    row = one(db, row_id)
    assert (row.status, row.error_code, row.attempts) == ("pending", "20429", 1)
    assert row.next_attempt_at == DAY + timedelta(seconds=120)

    assert dispatch_once(db, provider, settings, now=DAY + timedelta(seconds=119)).claimed == 0
    dispatch_once(db, provider, settings, now=DAY + timedelta(seconds=120))
    row = one(db, row_id)
    assert (row.status, row.attempts, row.error_code) == ("sent", 2, None)
    assert [r.answered for r in standin.requests] == [429, 201]


def test_21610_fails_the_row_and_opts_the_number_out(
    db: Database,
    standin: TwilioStandIn,
    provider: TwilioProvider,
    settings: Settings,
    session: Session,
) -> None:
    row_id = add(db)
    standin.script(standin.error(400, 21610, "Attempt to send to unsubscribed recipient"))
    dispatch_once(db, provider, settings, now=DAY)
    row = one(db, row_id)
    assert (row.status, row.error_code) == ("failed", "21610")
    assert "unsubscribed recipient" in (row.error_message or "")
    assert contacts.is_opted_out(session, PHONE)

    later = add(db, key="reminder:grid-12:2026-W49:member-5")
    dispatch_once(db, provider, settings, now=DAY + timedelta(days=7))
    assert one(db, later).status == "suppressed"
    assert len(standin.requests) == 1


def test_server_errors_are_retried_until_the_attempts_run_out(
    db: Database, standin: TwilioStandIn, provider: TwilioProvider, settings: Settings
) -> None:
    settings = dataclasses.replace(settings, sms_max_attempts=3)
    row_id = add(db)
    standin.script(*(standin.error(500, None, "Internal Server Error") for _ in range(5)))
    moment = DAY
    for _ in range(4):
        dispatch_once(db, provider, settings, now=moment)
        moment += timedelta(hours=1)
    row = one(db, row_id)
    assert (row.status, row.attempts, row.error_code) == ("failed", 3, "http-500")
    assert [r.answered for r in standin.requests] == [500, 500, 500]


def test_a_timeout_is_retried(
    db: Database, standin: TwilioStandIn, provider: TwilioProvider, settings: Settings
) -> None:
    row_id = add(db)
    standin.script(standin.slow(5))
    dispatch_once(db, provider, settings, now=DAY)
    row = one(db, row_id)
    assert (row.status, row.error_code) == ("pending", "timeout")
    dispatch_once(db, provider, settings, now=DAY + timedelta(minutes=1))
    assert one(db, row_id).status == "sent"


@pytest.mark.parametrize(
    "changes", [{"auth_token": "wrong-token"}, {"account_sid": "AC" + "9" * 32}]
)
def test_refused_credentials_hold_the_message_until_the_settings_are_fixed(
    db: Database, standin: TwilioStandIn, settings: Settings, changes: dict[str, str]
) -> None:
    misconfigured = make_provider(standin, **changes)
    row_id = add(db)
    stats = dispatch_once(db, misconfigured, settings, now=DAY)
    misconfigured.close()
    assert (stats.failed, stats.released) == (0, 1)
    row = one(db, row_id)
    assert (row.status, row.attempts, row.error_code) == ("pending", 0, "20003")
    assert "TWILIO_AUTH_TOKEN" in (row.error_message or "")

    fixed = make_provider(standin)
    dispatch_once(db, fixed, settings, now=DAY + timedelta(minutes=5))
    fixed.close()
    row = one(db, row_id)
    assert (row.status, row.attempts, row.error_code) == ("sent", 1, None)
    assert [r.answered for r in standin.requests] == [401, 201]


@pytest.fixture
def client(standin: TwilioStandIn) -> Iterator[Client]:
    http = BaseUrlHttpClient(standin.base_url, timeout=2)
    yield Client(ACCOUNT, TOKEN, http_client=http, environment=dict(ISOLATED_ENVIRONMENT))
    if http.session is not None:
        http.session.close()


@pytest.mark.parametrize(
    ("arguments", "status", "code"),
    [
        ({"to": "", "from_": FROM, "body": "x"}, 400, 21604),
        ({"to": PHONE, "from_": FROM}, 400, 21602),
        ({"to": PHONE, "body": "x"}, 400, 21603),
        ({"to": PHONE, "messaging_service_sid": "MG123", "body": "x"}, 400, 20001),
        ({"to": PHONE, "from_": FROM, "body": "x", "status_callback": "not a url"}, 400, 20001),
        ({"to": PHONE, "from_": FROM, "body": "x", "validity_period": "soon"}, 400, 20001),
    ],
)
def test_the_standin_refuses_what_twilio_would(
    client: Client, arguments: dict[str, str], status: int, code: int
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(**arguments)
    assert (refused.value.status, refused.value.code) == (status, code)


def test_the_standin_answers_with_a_message_shaped_like_twilios(client: Client) -> None:
    message = client.messages.create(to=PHONE, from_=FROM, body="hello")
    assert message.sid is not None and len(message.sid) == 34
    assert message.account_sid == ACCOUNT
    assert (message.to, message.from_, message.body) == (PHONE, FROM, "hello")
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.date_created is not None


@pytest.mark.parametrize("variable", ["TWILIO_EDGE", "TWILIO_REGION"])
def test_twilio_edge_or_region_in_the_environment_never_redirects_the_provider(
    db: Database,
    standin: TwilioStandIn,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, "sydney" if variable == "TWILIO_EDGE" else "au1")
    provider = make_provider(standin)
    row_id = add(db)
    dispatch_once(db, provider, settings, now=DAY)
    provider.close()
    assert [r.answered for r in standin.message_requests] == [201]
    assert one(db, row_id).status == "sent"


def test_twilio_credentials_in_the_environment_are_never_used(
    standin: TwilioStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    provider = make_provider(standin, auth_token="")
    with pytest.raises(SendError):
        provider.send(MESSAGE)
    provider.close()
    [request] = standin.requests
    assert (request.basic_auth, request.answered) == (None, 401)
