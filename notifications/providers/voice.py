"""Voice providers: the calls of the escalation ladder, behind one interface like SMS.

A call speaks the outbox row's `body` (rendered from the `voice.urgent` text in the
callee's language) and asks for a keypress: 1 acknowledges, posted by Twilio to
`POST /voice/twilio/gather`. `VOICE_BACKEND` picks `console` (prints the call, numbers
masked), `memory` (keeps it, for tests), `twilio` (the Calls API through the official
library, with inline TwiML), or a mainland provider's voice notification, `aliyun` or
`tencent` (approved templates, `notifications.providers.aliyun_voice`,
`tencent_voice`; results pushed to `notifications.mainland.voice_webhooks`). Errors
are the SMS providers' `SendError`s, so the dispatcher retries a call as it retries an
SMS.
"""

from __future__ import annotations

import sys
import threading
import uuid
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar, TextIO

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.twiml.voice_response import Gather, VoiceResponse

from config.logging import mask_phone, mask_phones_in
from config.settings import MAINLAND_BACKENDS, Settings, SettingsError
from notifications.provider_templates import TemplatePolicy, load_template_map, voice_policy
from notifications.providers.base import OutgoingMessage, SendError, SendResult, TransientSendError
from notifications.providers.twilio import TwilioProvider

GATHER_PATH = "/voice/twilio/gather"
SAY_LANGUAGES = {"zh_CN": "zh-CN", "en": "en-US"}
PLAY_TIMES = 2
"""Every call says its message twice."""


class VoiceProvider(ABC):
    name: ClassVar[str]

    @property
    @abstractmethod
    def sender(self) -> str:
        """The number calls come from: the key of the per-sender rate limit."""

    @abstractmethod
    def call(self, message: OutgoingMessage) -> SendResult:
        """Place one call speaking `message.body`; raise a `SendError` when refused."""

    def close(self) -> None:  # noqa: B027 - most providers hold nothing to release
        """Release connections."""


def call_twiml(text: str, language: str, action_url: str) -> str:
    """`<Gather numDigits=1 action=…><Say language="zh-CN">text</Say></Gather>`, said twice."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=action_url, method="POST", timeout=8)
    gather.say(text, language=SAY_LANGUAGES.get(language, "zh-CN"), loop=PLAY_TIMES)
    response.append(gather)
    return str(response)


@dataclass
class ConsoleVoiceProvider(VoiceProvider):
    stream: TextIO | None = None
    name: ClassVar[str] = "console"

    @property
    def sender(self) -> str:
        return "console-voice"

    def call(self, message: OutgoingMessage) -> SendResult:
        sid = "CA" + uuid.uuid4().hex
        stream = self.stream or sys.stdout
        print(
            f"[call {sid}] to {mask_phone(message.to)} ({message.language}): "
            f"{mask_phones_in(message.body)} [press 1 to acknowledge]",
            file=stream,
        )
        stream.flush()
        return SendResult(provider_sid=sid, status="queued")


@dataclass
class MemoryVoiceProvider(VoiceProvider):
    name: ClassVar[str] = "memory"
    calls: list[OutgoingMessage] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)
    _scripted: deque[SendError] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sender(self) -> str:
        return "memory-voice"

    def fail_next(self, *errors: SendError) -> None:
        with self._lock:
            self._scripted.extend(errors)

    def to(self, phone: str) -> list[OutgoingMessage]:
        with self._lock:
            return [call for call in self.calls if call.to == phone]

    def call(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            if self._scripted:
                raise self._scripted.popleft()
            sid = "CA" + uuid.uuid4().hex
            self.calls.append(message)
            self.sids.append(sid)
        return SendResult(provider_sid=sid, status="queued")


@dataclass
class TwilioVoiceProvider(VoiceProvider):
    """Twilio's Calls API with the SMS provider's client, transport and error mapping."""

    twilio: TwilioProvider
    gather_url: str
    name: ClassVar[str] = "twilio"

    @property
    def sender(self) -> str:
        return self.twilio.from_number or ""

    def close(self) -> None:
        self.twilio.close()

    def call(self, message: OutgoingMessage) -> SendResult:
        try:
            created = self.twilio.client.calls.create(
                to=message.to,
                from_=self.twilio.from_number,
                twiml=call_twiml(message.body, message.language, self.gather_url),
            )
        except (TwilioRestException, TwilioServiceException) as error:
            raise self.twilio._classify(error) from error
        except requests.Timeout as error:
            raise TransientSendError("timeout", "Twilio did not answer in time") from error
        except requests.RequestException as error:
            raise TransientSendError("connection", f"cannot reach Twilio: {error}") from error
        if not created.sid:
            raise TransientSendError("no-sid", "Twilio accepted the call but gave no SID")
        return SendResult(provider_sid=created.sid, status=created.status or "queued")


def build_voice_template_policy(settings: Settings) -> TemplatePolicy | None:
    """The voice templates of a mainland voice backend (None for those that speak free
    text); their variables are as long as the same provider's SMS variables."""
    if settings.voice_backend not in MAINLAND_BACKENDS:
        return None
    limit = (
        settings.aliyun_sms_variable_limit
        if settings.voice_backend == "aliyun"
        else settings.tencent_sms_variable_limit
    )
    try:
        ids = load_template_map(settings.sms_template_map)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    return voice_policy(settings.voice_backend, limit, ids)


def build_voice_provider(settings: Settings, policy: TemplatePolicy | None = None) -> VoiceProvider:
    if settings.voice_backend in MAINLAND_BACKENDS:
        policy = policy or build_voice_template_policy(settings)
        assert policy is not None
        if settings.voice_backend == "aliyun":
            from notifications.providers.aliyun_voice import AliyunVoiceProvider

            return AliyunVoiceProvider.from_settings(settings, policy)
        from notifications.providers.tencent_voice import TencentVoiceProvider

        return TencentVoiceProvider.from_settings(settings, policy)
    if settings.voice_backend == "twilio":
        return TwilioVoiceProvider(
            twilio=TwilioProvider(
                account_sid=settings.twilio_account_sid or "",
                auth_token=settings.twilio_auth_token or "",
                from_number=settings.twilio_from_number,
                api_base_url=settings.twilio_api_base_url,
            ),
            gather_url=(settings.public_base_url or "").rstrip("/") + GATHER_PATH,
        )
    if settings.voice_backend == "memory":
        return MemoryVoiceProvider()
    return ConsoleVoiceProvider()
