"""`POST /sms/twilio/status`, signed with the twilio library's own RequestValidator, and the
whole outbound path: outbox -> dispatcher -> Twilio API (stand-in) -> status callback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from config.runtime import settings_of
from grids.core.notices import Notice
from grids.storage.session import database_of
from notifications import contacts
from notifications.dispatcher import dispatch_once
from notifications.models import EarlyDeliveryStatus, OutboxMessage
from notifications.outbox import enqueue
from notifications.providers import provider_of
from notifications.providers.base import OutgoingMessage, SendResult
from notifications.providers.memory import MemoryProvider
from notifications.providers.twilio import TwilioProvider
from tests.support.app import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, empty_all_tables, make_app
from tests.support.twilio_standin import TwilioStandIn
from tests.support.webhooks import (
    CALLBACK_PHONE,
    CALLBACK_SID,
    STATUS_URL,
    callback,
    post_status,
)

MORNING = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@pytest.fixture
def sent(session: Session) -> OutboxMessage:
    row = enqueue(
        session,
        Notice(key="k", phone=CALLBACK_PHONE, language="zh_CN", template="sms.test"),
        now=datetime.now(UTC),
    )
    assert row is not None
    row.status, row.provider_sid, row.attempts = "sent", CALLBACK_SID, 1
    session.commit()
    return row


def status_of(session: Session, row: OutboxMessage) -> tuple[str, str | None]:
    session.refresh(row)
    return row.status, row.error_code


def test_a_signed_delivered_callback_updates_the_row(
    client: FlaskClient, session: Session, sent: OutboxMessage
) -> None:
    response = post_status(client, callback(status="delivered"))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert status_of(session, sent) == ("delivered", None)


def test_statuses_never_go_backwards(
    client: FlaskClient, session: Session, sent: OutboxMessage
) -> None:
    for status in ("queued", "sent", "delivered", "sent", "undelivered"):
        assert post_status(client, callback(status=status)).status_code == 204
    assert status_of(session, sent) == ("delivered", None)


def test_undelivered_records_the_error_code(
    client: FlaskClient, session: Session, sent: OutboxMessage
) -> None:
    post_status(client, callback(status="undelivered", ErrorCode="30003"))
    assert status_of(session, sent) == ("undelivered", "30003")


def test_error_21610_opts_the_number_out(
    client: FlaskClient, session: Session, sent: OutboxMessage
) -> None:
    post_status(client, callback(status="failed", ErrorCode="21610"))
    assert status_of(session, sent) == ("failed", "21610")
    assert contacts.is_opted_out(session, CALLBACK_PHONE)


@pytest.mark.parametrize("code", ["21211", "21614"])
def test_an_invalid_number_error_flags_the_number_for_the_administrator(
    client: FlaskClient, session: Session, sent: OutboxMessage, code: str
) -> None:
    post_status(client, callback(status="failed", ErrorCode=code))
    assert status_of(session, sent) == ("failed", code)
    assert contacts.is_invalid(session, CALLBACK_PHONE)
    assert not contacts.is_opted_out(session, CALLBACK_PHONE)


def test_an_unknown_sid_is_answered_so_twilio_stops_retrying(
    client: FlaskClient, session: Session, sent: OutboxMessage
) -> None:
    response = post_status(client, callback(sid="SM" + "9" * 32))
    assert response.status_code == 204
    assert status_of(session, sent) == ("sent", None)


def test_a_callback_without_message_sid_is_refused_clearly(client: FlaskClient) -> None:
    params = callback()
    del params["MessageSid"], params["SmsSid"]
    response = post_status(client, params)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "missing_fields"
    assert error["fields"] == {"MessageSid": "required"}
    assert "MessageSid" in error["message"]


@pytest.mark.parametrize(
    "tamper",
    ["wrong signature", "missing signature", "changed parameter", "wrong url", "wrong token"],
)
def test_a_badly_signed_callback_is_refused_and_changes_nothing(
    client: FlaskClient, session: Session, sent: OutboxMessage, tamper: str
) -> None:
    params = callback(status="delivered")
    if tamper == "wrong signature":
        response = post_status(client, params, signature="bm90IGEgc2lnbmF0dXJl")
    elif tamper == "missing signature":
        response = post_status(client, params, signature="")
    elif tamper == "changed parameter":
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(STATUS_URL, params)
        tampered = {**params, "MessageStatus": "failed"}
        response = client.post(
            "/sms/twilio/status", data=tampered, headers={"X-Twilio-Signature": signature}
        )
    elif tamper == "wrong url":
        response = post_status(
            client, params, url="https://elsewhere.example.org/sms/twilio/status"
        )
    else:
        response = post_status(client, params, token="someone-elses-token")
    assert response.status_code == 403
    assert status_of(session, sent) == ("sent", None)


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def twilio_app(database_url: str, standin: TwilioStandIn) -> Iterator[Flask]:
    application = make_app(database_url, sms_backend="twilio", twilio_api_base_url=standin.base_url)
    yield application
    provider_of(application).close()
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


def test_a_reminder_goes_out_through_twilio_and_its_delivery_comes_back(
    twilio_app: Flask, standin: TwilioStandIn
) -> None:
    assert isinstance(provider_of(twilio_app), TwilioProvider)
    database = database_of(twilio_app)
    morning = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
    with time_machine.travel(morning, tick=True):
        with database.unit_of_work() as session:
            enqueue(
                session,
                Notice(
                    key="reminder:grid-12:2026-W48:member-5",
                    phone=CALLBACK_PHONE,
                    language="en",
                    template="sms.test",
                ),
                now=morning,
            )
            session.commit()
        result = twilio_app.test_cli_runner().invoke(args=["outbox", "dispatch", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output

    [request] = standin.message_requests
    assert request.value("To") == CALLBACK_PHONE
    assert request.value("StatusCallback") == STATUS_URL
    assert (request.value("Body") or "").startswith("Huzhu SMS test")
    with database.unit_of_work() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.status, row.provider_sid) == ("sent", standin.created[0]["sid"])
        sid = row.provider_sid
        assert sid is not None

    client = twilio_app.test_client()
    response = post_status(client, callback(sid=sid, status="sent"))
    assert response.status_code == 204
    response = post_status(client, callback(sid=sid, status="delivered"))
    assert response.status_code == 204
    with database.unit_of_work() as session:
        assert session.scalars(select(OutboxMessage.status)).one() == "delivered"

    listed = twilio_app.test_cli_runner().invoke(args=["outbox", "list", "--format", "json"])
    [item] = json.loads(listed.output)["items"]
    assert (item["status"], item["provider_sid"], item["to"]) == (
        "delivered",
        sid,
        "+86139****5678",
    )


def test_a_failure_reported_before_the_sid_is_recorded_is_applied_when_it_is(
    client: FlaskClient, app: Flask
) -> None:
    """Twilio may call back before the dispatcher's UPDATE commits: an undelivered
    urgent message must still show as undelivered (it decides whether to escalate)."""
    database = database_of(app)
    early = "SM" + "e" * 32
    response = post_status(client, callback(sid=early, status="undelivered", ErrorCode="30005"))
    assert response.status_code == 204
    with database.unit_of_work() as session:
        enqueue(
            session,
            Notice(
                key="urgent:1",
                phone=CALLBACK_PHONE,
                language="zh_CN",
                template="sms.test",
                urgent=True,
            ),
            now=MORNING,
        )
        session.commit()

    class AcceptsAs(MemoryProvider):
        def send(self, message: OutgoingMessage) -> SendResult:
            super().send(message)
            return SendResult(provider_sid=early, status="sent")

    dispatch_once(database, AcceptsAs(), settings_of(app), now=MORNING)
    with database.unit_of_work() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.status, row.error_code) == ("undelivered", "30005")
        assert session.scalar(select(func.count()).select_from(EarlyDeliveryStatus)) == 0
