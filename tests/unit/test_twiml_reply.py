"""The inbound webhook's TwiML reply is what the twilio library would write."""

from __future__ import annotations

import pytest
from twilio.twiml.messaging_response import MessagingResponse

from notifications.twilio.webhooks import twiml


def library_twiml(reply: str | None) -> str:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return str(response)


@pytest.mark.parametrize(
    "reply",
    [
        None,
        "",
        "已收到第48周报告：18人稳定",
        "Seat 5 <BP 150/95> & glucose \"6.1\" 'ok' ]]>",
        "行一\r\n行二\t&amp;",
    ],
)
def test_the_reply_is_the_librarys_twiml(reply: str | None) -> None:
    response = twiml(reply)
    assert response.mimetype == "application/xml"
    assert response.get_data(as_text=True) == library_twiml(reply)
