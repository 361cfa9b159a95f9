"""Providers without the network: the console and memory providers, Twilio error mapping."""

from __future__ import annotations

import io

import pytest
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from config.settings import Settings
from notifications.providers import (
    OutgoingMessage,
    PermanentSendError,
    ProviderAccountError,
    TransientSendError,
    build_provider,
)
from notifications.providers.console import ConsoleProvider
from notifications.providers.memory import MemoryProvider
from notifications.providers.twilio import TwilioProvider

MESSAGE = OutgoingMessage(
    to="+8613912345678",
    template="sms.test",
    params={"week": 48},
    language="zh_CN",
    body="互助短信测试",
    reference="test:1",
)
ACCOUNT = "AC" + "0" * 32


def twilio(**changes: object) -> TwilioProvider:
    values: dict[str, object] = {
        "account_sid": ACCOUNT,
        "auth_token": "token",
        "from_number": "+15005550006",
    }
    values.update(changes)
    return TwilioProvider(**values)  # type: ignore[arg-type]


def test_the_console_provider_prints_the_body_with_the_number_masked() -> None:
    out = io.StringIO()
    result = ConsoleProvider(stream=out).send(MESSAGE)
    printed = out.getvalue()
    assert "互助短信测试" in printed
    assert "+86139****5678" in printed
    assert "13912345678" not in printed
    assert result.provider_sid in printed


def test_the_console_provider_masks_numbers_inside_the_text() -> None:
    out = io.StringIO()
    message = OutgoingMessage(
        to="+8613912345678",
        template="sms.urgent.doctor",
        params={},
        language="zh_CN",
        body="【急】5号胸痛。报告人电话+8613800001111",
    )
    ConsoleProvider(stream=out).send(message)
    assert "+86138****1111" in out.getvalue()
    assert "13800001111" not in out.getvalue()


def test_the_memory_provider_keeps_what_it_sent_and_fails_as_scripted() -> None:
    provider = MemoryProvider()
    provider.fail_next(TransientSendError("20429", "slow down"))
    with pytest.raises(TransientSendError):
        provider.send(MESSAGE)
    first = provider.send(MESSAGE)
    second = provider.send(MESSAGE)
    assert provider.sent == [MESSAGE, MESSAGE]
    assert provider.sids == [first.provider_sid, second.provider_sid]
    assert first.provider_sid != second.provider_sid
    assert len(provider.attempts) == 3


def test_the_memory_provider_can_fail_every_send_to_one_number() -> None:
    provider = MemoryProvider()
    provider.fail_to(MESSAGE.to, PermanentSendError("21211", "invalid"))
    with pytest.raises(PermanentSendError):
        provider.send(MESSAGE)
    provider.fail_to(MESSAGE.to, None)
    provider.send(MESSAGE)
    assert provider.to(MESSAGE.to) == [MESSAGE]


@pytest.mark.parametrize(
    ("backend", "kind"),
    [("console", ConsoleProvider), ("memory", MemoryProvider), ("twilio", TwilioProvider)],
)
def test_sms_backend_chooses_the_provider(backend: str, kind: type) -> None:
    settings = Settings(
        sms_backend=backend,
        twilio_account_sid=ACCOUNT,
        twilio_auth_token="token",
        twilio_from_number="+15005550006",
        public_base_url="https://huzhu.example.org",
    )
    provider = build_provider(settings)
    assert isinstance(provider, kind)
    if isinstance(provider, TwilioProvider):
        assert provider.status_callback == "https://huzhu.example.org/sms/twilio/status"
        provider.close()


def test_without_a_public_url_twilio_gets_no_status_callback() -> None:
    settings = Settings(
        sms_backend="twilio",
        twilio_account_sid=ACCOUNT,
        twilio_auth_token="token",
        twilio_messaging_service_sid="MG" + "1" * 32,
    )
    provider = build_provider(settings)
    assert isinstance(provider, TwilioProvider)
    assert provider.status_callback is None
    assert "status_callback" not in provider.message_arguments(MESSAGE)
    assert provider.sender == "MG" + "1" * 32


def test_twilio_needs_a_sender() -> None:
    with pytest.raises(ValueError, match="TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"):
        twilio(from_number=None)


def test_a_messaging_service_is_preferred_over_a_from_number() -> None:
    arguments = twilio(messaging_service_sid="MG" + "2" * 32).message_arguments(MESSAGE)
    assert arguments["messaging_service_sid"] == "MG" + "2" * 32
    assert "from_" not in arguments
    assert arguments["body"] == MESSAGE.body
    assert arguments["to"] == MESSAGE.to


@pytest.mark.parametrize(
    ("status", "code", "kind", "stored_code"),
    [
        (429, 20429, TransientSendError, "20429"),
        (503, None, TransientSendError, "http-503"),
        (500, 500, TransientSendError, "http-500"),
        (400, 21610, PermanentSendError, "21610"),
        (400, 21211, PermanentSendError, "21211"),
        (400, 21614, PermanentSendError, "21614"),
        (400, 21408, PermanentSendError, "21408"),
        (422, None, PermanentSendError, "http-422"),
        (401, 20003, ProviderAccountError, "20003"),
        (401, 20005, ProviderAccountError, "20005"),
        (403, None, ProviderAccountError, "http-403"),
        (404, 20404, ProviderAccountError, "20404"),
    ],
)
def test_twilio_errors_are_transient_or_permanent(
    status: int, code: int | None, kind: type, stored_code: str
) -> None:
    provider = twilio()
    error = provider._classify(TwilioRestException(status, "/Messages.json", "refused", code))
    assert isinstance(error, kind)
    assert error.code == stored_code
    provider.close()


def test_rfc9457_errors_are_mapped_too() -> None:
    provider = twilio()
    error = provider._classify(
        TwilioServiceException("about:blank", "Too Many Requests", 429, 20429, detail="slow")
    )
    assert isinstance(error, TransientSendError)
    assert error.message == "slow"
    provider.close()
