"""Requests as Twilio signs and posts them: inbound SMS and delivery status callbacks."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree
from typing import Any

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from notifications.sms.segments import fits_one_segment
from tests.support.app import (
    PUBLIC_BASE_URL,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_FROM_NUMBER,
)

INBOUND = "/sms/twilio/inbound"
STATUS = "/sms/twilio/status"
STATUS_URL = PUBLIC_BASE_URL + STATUS
CALLBACK_SID = "SM" + "c" * 32
CALLBACK_PHONE = "+8613912345678"

_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def twilio_form(from_phone: str, body: str, sid: str | None = None, **extra: str) -> dict[str, str]:
    """The fields Twilio posts for an inbound SMS."""
    return {
        "ToCountry": "US",
        "SmsMessageSid": sid or "",
        "NumMedia": "0",
        "SmsSid": sid or "",
        "SmsStatus": "received",
        "Body": body,
        "To": TWILIO_FROM_NUMBER,
        "NumSegments": "1",
        "MessageSid": sid or new_sid(),
        "AccountSid": TWILIO_ACCOUNT_SID,
        "From": from_phone,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def signature_for(form: dict[str, str], url: str = PUBLIC_BASE_URL + INBOUND) -> str:
    return RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, form)


def post_signed(client: Any, form: dict[str, str], signature: str | None = None) -> Any:
    """An inbound SMS posted to the webhook, signed unless `signature` says otherwise."""
    return client.post(
        INBOUND,
        data=form,
        headers={"X-Twilio-Signature": signature if signature is not None else signature_for(form)},
    )


def reply_of(response: Any) -> str | None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    root = ElementTree.fromstring(response.get_data())
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None


def send(client: Any, from_phone: str, body: str, sid: str | None = None, **extra: str) -> str:
    """The reply to one message; the message must get one."""
    reply = reply_of(post_signed(client, twilio_form(from_phone, body, sid, **extra)))
    assert reply is not None
    assert fits_one_segment(reply), reply
    return reply


def callback(sid: str = CALLBACK_SID, status: str = "delivered", **extra: str) -> dict[str, str]:
    """What Twilio posts about a message's delivery, unknown extra fields included."""
    params = {
        "AccountSid": TWILIO_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": TWILIO_FROM_NUMBER,
        "To": CALLBACK_PHONE,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "RawDlrDoneDate": "2611241002",
    }
    params.update(extra)
    return params


def post_status(
    client: FlaskClient,
    params: dict[str, str],
    *,
    url: str = STATUS_URL,
    token: str = TWILIO_AUTH_TOKEN,
    signature: str | None = None,
) -> TestResponse:
    """A status callback signed for `url` with `token`; `signature=""` sends none."""
    headers = {}
    computed = RequestValidator(token).compute_signature(url, params)
    if signature != "":
        headers["X-Twilio-Signature"] = signature or computed
    return client.post(STATUS, data=params, headers=headers)
