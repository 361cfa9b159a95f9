"""Escalation calls through the official twilio library against the Calls API stand-in,
which checks every request against Twilio's OpenAPI description."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator

import pytest

from config.settings import Settings
from notifications.providers import OutgoingMessage, PermanentSendError, TransientSendError
from notifications.providers.voice import TwilioVoiceProvider, build_voice_provider
from tests.support.twilio_calls_standin import TwilioCallsStandIn

ACCOUNT = "AC" + "1" * 32
TOKEN = "voice-test-token"
FROM = "+15005550006"
DOCTOR = "+8613900001234"


@pytest.fixture
def standin() -> Iterator[TwilioCallsStandIn]:
    with TwilioCallsStandIn(ACCOUNT, TOKEN) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def voice(standin: TwilioCallsStandIn) -> Iterator[TwilioVoiceProvider]:
    settings = Settings(
        voice_backend="twilio",
        twilio_account_sid=ACCOUNT,
        twilio_auth_token=TOKEN,
        twilio_from_number=FROM,
        twilio_api_base_url=standin.base_url,
        public_base_url="https://huzhu.example.org",
    )
    provider = build_voice_provider(settings)
    assert isinstance(provider, TwilioVoiceProvider)
    yield provider
    provider.close()


def call(text: str = "紧急报告，编号K7Q。确认接手请按1。") -> OutgoingMessage:
    return OutgoingMessage(
        to=DOCTOR, template="voice.urgent", params={}, language="zh_CN", body=text
    )


def test_a_call_speaks_chinese_and_gathers_one_key_at_the_signed_webhook(voice, standin) -> None:
    result = voice.call(call())
    assert result.provider_sid.startswith("CA")
    [request] = standin.call_requests
    assert request.answered == 201
    form = {name: values[0] for name, values in request.form.items()}
    assert (form["To"], form["From"]) == (DOCTOR, FROM)
    root = ElementTree.fromstring(form["Twiml"])
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == "https://huzhu.example.org/voice/twilio/gather"
    say = gather.find("Say")
    assert say is not None and say.get("language") == "zh-CN"
    assert say.text == "紧急报告，编号K7Q。确认接手请按1。"
    assert "Url" not in form


def test_errors_map_to_retry_or_give_up(voice, standin) -> None:
    standin.script(standin.error(503, 20500), standin.error(400, 21215, "geo permissions"))
    with pytest.raises(TransientSendError):
        voice.call(call())
    with pytest.raises(PermanentSendError) as refused:
        voice.call(call())
    assert refused.value.code == "21215"


def test_a_call_too_long_for_twilio_is_refused_by_the_description(voice, standin) -> None:
    with pytest.raises(PermanentSendError) as refused:
        voice.call(call("急" * 4000))
    assert refused.value.code == "21236"
