"""Aliyun voice notification (Dyvmsapi 2017-05-25) through its official SDK.

The SDK is `alibabacloud_dyvmsapi20170525`.

A call goes out as `SingleCallByTts`: the approved TTS template mapped under its
`voice.*` name in `SMS_TEMPLATE_MAP`, its variables as a JSON object of strings,
played twice (`PlayTimes=2`), from `ALIYUN_VOICE_SHOW_NUMBER` when the county has a
dedicated number (left out for the shared-number mode), with our outbox id as `OutId`
(echoed as `out_id` in the call report). The SDK does not retry: the dispatcher owns
retries. Business errors come back as `Code` in an HTTP 200 answer, HTTP errors as SDK
exceptions; both are classified as for SMS (`notifications.providers.mainland`).

`QueryCallDetailByCallId` gives the result of one call (reconciliation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from alibabacloud_dyvmsapi20170525 import models as dyvms
from alibabacloud_dyvmsapi20170525.client import Client
from darabonba.runtime import RuntimeOptions

from config.settings import Settings
from notifications.provider_templates import TemplateNotSendable, TemplatePolicy
from notifications.providers import aliyun as aliyun_sms
from notifications.providers.base import (
    OutgoingMessage,
    ProviderAccountError,
    SendResult,
    TransientSendError,
)
from notifications.providers.mainland import (
    ACCOUNT,
    CONFIGURATION,
    RECIPIENT,
    classify,
    error_for,
)
from notifications.providers.voice import PLAY_TIMES, VoiceProvider

TTS_PRODUCT_ID = 11010000138001
"""`ProdId` of TTS notification calls in `QueryCallDetailByCallId`."""

ERROR_CLASSES: dict[str, frozenset[str]] = {
    RECIPIENT: aliyun_sms.ERROR_CLASSES[RECIPIENT]
    | frozenset({"isv.CALLED_NUMBER_ILLEGAL", "isv.NUMBER_BLACK_LIST"}),
    CONFIGURATION: aliyun_sms.ERROR_CLASSES[CONFIGURATION]
    | frozenset(
        {
            "isv.TTS_TEMPLATE_ILLEGAL",
            "isv.TEMPLATE_NOT_EXISTS",
            "isv.VOICE_FILE_ILLEGAL",
            "isv.SHOW_NUMBER_ILLEGAL",
            "isv.CALLED_SHOW_NUMBER_ILLEGAL",
            "isv.DISPLAY_NUMBER_ILLEGAL",
            "isv.NO_AVAILABLE_NUMBER",
        }
    ),
    ACCOUNT: aliyun_sms.ERROR_CLASSES[ACCOUNT],
}
"""Aliyun's `Code`s by class, those of SMS and the voice ones; anything else
(`isv.BUSINESS_LIMIT_CONTROL`, `Throttling.User`, `isp.SYSTEM_ERROR`, 5xx) is transient."""


def called_number(phone: str) -> str:
    """`+8613912345678` → `13912345678`; a mainland landline `+8657112345678` →
    `057112345678`; other countries as country code and number."""
    if phone.startswith("+86"):
        national = phone[3:]
        return national if national.startswith("1") else "0" + national.lstrip("0")
    return phone.lstrip("+")


@dataclass(frozen=True)
class CallDetail:
    """What `QueryCallDetailByCallId` says of one call (None fields: not given)."""

    state: str
    """The operator's status code, as in the call report (`200000` heard, `200003` no answer)."""
    dtmf: str
    duration: int


@dataclass
class AliyunVoiceProvider(VoiceProvider):
    access_key_id: str
    access_key_secret: str
    policy: TemplatePolicy
    show_number: str | None = None
    endpoint: str = "dyvmsapi.aliyuncs.com"
    name: ClassVar[str] = "aliyun"
    client: Client = field(init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, policy: TemplatePolicy) -> AliyunVoiceProvider:
        return cls(
            access_key_id=settings.aliyun_access_key_id or "",
            access_key_secret=settings.aliyun_access_key_secret or "",
            policy=policy,
            show_number=settings.aliyun_voice_show_number,
            endpoint=settings.aliyun_voice_endpoint,
        )

    def __post_init__(self) -> None:
        config = aliyun_sms.client_config(self.access_key_id, self.access_key_secret, self.endpoint)
        self.client = Client(config)

    @property
    def sender(self) -> str:
        return self.show_number or "aliyun-voice"

    @staticmethod
    def runtime() -> RuntimeOptions:
        return aliyun_sms.AliyunProvider.runtime()

    def request_for(self, message: OutgoingMessage) -> dyvms.SingleCallByTtsRequest:
        try:
            tts_code, values = self.policy.provider_values(
                message.template, message.language, message.params
            )
        except TemplateNotSendable as error:
            raise ProviderAccountError("template", str(error)) from error
        return dyvms.SingleCallByTtsRequest(
            called_number=called_number(message.to),
            called_show_number=self.show_number or None,
            tts_code=tts_code,
            tts_param=json.dumps(dict(values), ensure_ascii=False),
            play_times=PLAY_TIMES,
            out_id=str(message.outbox_id if message.outbox_id is not None else message.reference),
        )

    def call(self, message: OutgoingMessage) -> SendResult:
        request = self.request_for(message)
        response = aliyun_sms.answer_of(
            lambda: self.client.single_call_by_tts_with_options(request, self.runtime()),
            ERROR_CLASSES,
            "Aliyun voice",
        )
        body = response.body
        code = (body.code or "").strip() if body is not None else ""
        if code == "OK" and body is not None and body.call_id:
            return SendResult(provider_sid=body.call_id, status="sent")
        text = (body.message or "") if body is not None else ""
        if code == "OK":
            raise TransientSendError("no-call-id", "Aliyun accepted the call but gave no CallId")
        raise error_for(classify(code, ERROR_CLASSES), code, text, aliyun_sms.retry_after(text))

    def query_call_detail(self, call_id: str, placed_at: datetime) -> CallDetail | None:
        """The result of call `call_id` placed on `placed_at`'s day; None while unknown."""
        request = dyvms.QueryCallDetailByCallIdRequest(
            call_id=call_id,
            prod_id=TTS_PRODUCT_ID,
            query_date=int(placed_at.timestamp() * 1000),
        )
        response = self.client.query_call_detail_by_call_id_with_options(request, self.runtime())
        body = response.body
        if body is None or body.code != "OK":
            code = body.code if body is not None else "empty"
            raise TransientSendError(str(code), str(body.message if body else ""))
        data = _json_object(body.data)
        state = str(data.get("state") or "").strip()
        if not state:
            return None
        return CallDetail(
            state=state,
            dtmf=str(data.get("dtmf") or "").strip(),
            duration=_int(data.get("duration")),
        )


def _json_object(text: object) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(str(text or ""))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
