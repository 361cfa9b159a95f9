"""Oversized, over-long and malformed requests to the Twilio webhooks: refused early,
with the JSON error shape, and never stored."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from flask import Flask
from werkzeug.test import EnvironBuilder

from grids.models import UrgentReport
from grids.storage.session import database_of
from notifications.models import InboundMessage
from notifications.twilio.fields import MAX_BODY_BYTES, MAX_PARAMETERS
from tests.support.app import make_app
from tests.support.county import THURSDAY, build_county
from tests.support.queries import count
from tests.support.webhooks import (
    INBOUND,
    callback,
    new_sid,
    post_signed,
    post_status,
    reply_of,
    signature_for,
    twilio_form,
)

pytestmark = pytest.mark.faults


@pytest.fixture(autouse=True)
def thursday() -> Iterator[None]:
    with time_machine.travel(THURSDAY, tick=False):
        yield


def test_a_large_body_with_a_fake_signature_is_refused_413_before_it_is_read(
    client: Any, db: Any
) -> None:
    class Unreadable:
        """A body stream that fails the test if the server reads from it."""

        def read(self, *_args: Any) -> bytes:
            raise AssertionError("the body was read")

    environ = {
        "wsgi.input": Unreadable(),
        "CONTENT_LENGTH": str(50 * 1024 * 1024),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
    }
    response = client.post(
        INBOUND, environ_overrides=environ, headers={"X-Twilio-Signature": "forged"}
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_too_large"
    assert count(db, InboundMessage) == 0


def test_a_body_of_unannounced_length_past_the_limit_is_refused_413(client: Any, db: Any) -> None:
    """Chunked: no Content-Length to refuse early, so parsing stops at the limit."""
    county = build_county(db)
    form = twilio_form(county.zh.coordinator.phone, "好 " + "x" * MAX_BODY_BYTES)  # type: ignore[arg-type]
    body = urlencode(form).encode()
    environ = EnvironBuilder(
        path=INBOUND,
        method="POST",
        headers={"X-Twilio-Signature": signature_for(form)},  # type: ignore[dict-item]
        content_type="application/x-www-form-urlencoded",
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    response = client.open(environ)
    assert response.status_code == 413
    assert count(db, InboundMessage) == 0


def test_too_many_parameters_are_refused(client: Any, db: Any) -> None:
    county = build_county(db)
    form = twilio_form(county.zh.coordinator.phone, "好")  # type: ignore[arg-type]
    form.update({f"Extra{n}": "1" for n in range(MAX_PARAMETERS)})
    response = post_signed(client, form)
    assert response.status_code == 413
    assert count(db, InboundMessage) == 0


def test_a_signed_request_replayed_with_shifted_boundaries_is_refused(client: Any, db: Any) -> None:
    """The validator concatenates names and values without separators: folding part of
    the next parameter into MessageSid keeps the signature valid."""
    county = build_county(db)
    sid = new_sid()
    form = twilio_form(county.zh.coordinator.phone, "急 5 胸痛", sid)  # type: ignore[arg-type]
    signature = signature_for(form)
    assert reply_of(post_signed(client, form, signature)) is not None
    # `NumMedia` + `0` + `NumSegments` + `1` == `NumMedia` + `0NumSegments1`: the same bytes.
    forged = dict(form)
    del forged["NumSegments"]
    forged["NumMedia"] = "0NumSegments1"
    assert signature_for(forged) == signature
    response = post_signed(client, forged, signature)
    assert response.status_code == 400
    assert "NumMedia" in response.get_json()["error"]["fields"]
    assert count(db, UrgentReport) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MessageSid", "SM" + "0" * 31 + "\x00"),
        ("MessageSid", "SM123"),
        ("MessageSid", "SM" + "0" * 32 + "NumMedia0"),
        ("AccountSid", "AC" + "g" * 32),
        ("From", "+86139\x0012345678"),
        ("To", "not a number"),
    ],
)
def test_malformed_identifiers_are_refused_400(
    client: Any, db: Any, field: str, value: str
) -> None:
    county = build_county(db)
    form = twilio_form(county.zh.coordinator.phone, "好")  # type: ignore[arg-type]
    form[field] = value
    response = post_signed(client, form)
    assert response.status_code == 400
    body = response.get_json()["error"]
    assert body["code"] == "malformed_fields"
    assert field in body["fields"]
    assert count(db, InboundMessage) == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"MessageSid": "SM\x00" + "c" * 30, "SmsSid": "SM\x00" + "c" * 30},
        {"ErrorCode": "30005\x00"},
        {"MessageStatus": "delivered\x01", "SmsStatus": "delivered\x01"},
        {"To": "+8613912345678\x07"},
    ],
)
def test_control_characters_in_a_signed_status_callback_are_refused_400(
    client: Any, extra: dict[str, str]
) -> None:
    response = post_status(client, callback(**extra))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_fields"


@pytest.fixture
def unchecked_app(database_url: str, caplog: pytest.LogCaptureFixture) -> Iterator[Flask]:
    with caplog.at_level("WARNING"):
        app = make_app(database_url, twilio_validate_signature=False)
    yield app
    database_of(app).dispose()


def test_unchecked_signatures_show_on_healthz(unchecked_app: Flask) -> None:
    body = unchecked_app.test_client().get("/healthz").get_json()
    assert body["warnings"] == ["twilio_signature_not_checked"]


def test_unchecked_signatures_are_logged_at_start(
    unchecked_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    logged = [record.getMessage() for record in caplog.get_records("setup")]
    assert any("TWILIO_VALIDATE_SIGNATURE=false" in message for message in logged)
