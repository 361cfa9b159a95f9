"""Aliyun SMS (Dysmsapi 2017-05-25) through its official SDK, `alibabacloud_dysmsapi20170525`.

A message goes out as `SendSms` with our approved template's code, its
variables as a JSON object of strings, the signature `ALIYUN_SMS_SIGN_NAME`
and our outbox id as `OutId` (echoed as `out_id` in delivery reports). The
SDK does not retry (`autoretry=False`): the dispatcher owns retries, and
Aliyun does not deduplicate sends. Business errors come back as `Code` in an
HTTP 200 answer; HTTP errors as SDK exceptions; both are classified here
(`notifications.providers.mainland`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, TypeVar

from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as open_api
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.runtime import RuntimeOptions

from config.settings import Settings
from notifications.provider_templates import TemplatePolicy
from notifications.providers.base import (
    OutgoingMessage,
    SendError,
    SendResult,
    TransientSendError,
)
from notifications.providers.mainland import (
    ACCOUNT,
    CONFIGURATION,
    RECIPIENT,
    MainlandSmsProvider,
    classified_error,
    classify,
    error_for,
    national_mainland,
    parse_endpoint,
    reference_of,
)

TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_MS = 3_000

_Answer = TypeVar("_Answer")

ERROR_CLASSES: dict[str, frozenset[str]] = {
    RECIPIENT: frozenset(
        {
            "isv.MOBILE_NUMBER_ILLEGAL",
            "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
            "isv.BLACK_LIST_CONTROL",
        }
    ),
    CONFIGURATION: frozenset(
        {
            "isv.SMS_TEMPLATE_ILLEGAL",
            "isv.SMS_SIGNATURE_ILLEGAL",
            "isv.SIGN_STATE_ILLEGAL",
            "isv.SMS_SIGN_ILLEGAL",
            "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
            "isv.TEMPLATE_MISSING_PARAMETERS",
            "isv.TEMPLATE_PARAMS_ILLEGAL",
            "isv.INVALID_JSON_PARAM",
            "isv.INVALID_PARAMETERS",
            "isv.PARAM_LENGTH_LIMIT",
            "isv.BLACK_KEY_CONTROL_LIMIT",
            "isv.PARAM_NOT_SUPPORT_URL",
            "isv.SMS_CONTENT_ILLEGAL",
            "isv.EXTEND_CODE_ERROR",
            "isv.MOBILE_COUNT_OVER_LIMIT",
            "isp.RAM_PERMISSION_DENY",
            "isv.PRODUCT_UN_SUBSCRIPT",
            "isv.PRODUCT_UNSUBSCRIBE",
            "isv.ACCOUNT_NOT_EXISTS",
            "isv.ACCOUNT_ABNORMAL",
            "isv.DENY_IP_RANGE",
            "InvalidAccessKeyId.NotFound",
            "SignatureDoesNotMatch",
            "Forbidden.RAM",
        }
    ),
    ACCOUNT: frozenset(
        {
            "isv.AMOUNT_NOT_ENOUGH",
            "isv.OUT_OF_SERVICE",
            "isv.DAY_LIMIT_CONTROL",
            "isv.MONTH_LIMIT_CONTROL",
        }
    ),
}
"""Aliyun's `Code`s by class; anything else (`isv.BUSINESS_LIMIT_CONTROL`,
`Throttling.User`, `isp.SYSTEM_ERROR`, 5xx) is transient."""

_WINDOWS = (("天级", 3600.0), ("小时级", 3600.0), ("分钟级", 60.0))


def retry_after(message: str) -> float | None:
    """Aliyun's flow-control message names its window: 分钟级 (minute), 小时级, 天级."""
    for word, seconds in _WINDOWS:
        if word in message:
            return seconds
    return None


@dataclass(frozen=True)
class SendDetail:
    """One row of `QuerySendDetails`: what Aliyun knows of a message sent to a number."""

    phone: str
    send_status: int
    """1 waiting for the carrier's report, 2 failed, 3 delivered."""
    err_code: str
    out_id: str
    template_code: str
    send_date: str
    receive_date: str


@dataclass
class AliyunProvider(MainlandSmsProvider):
    access_key_id: str
    access_key_secret: str
    sign_name: str
    policy: TemplatePolicy
    endpoint: str = "dysmsapi.aliyuncs.com"
    name: ClassVar[str] = "aliyun"
    client: Client = field(init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, policy: TemplatePolicy) -> AliyunProvider:
        return cls(
            access_key_id=settings.aliyun_access_key_id or "",
            access_key_secret=settings.aliyun_access_key_secret or "",
            sign_name=settings.aliyun_sms_sign_name or "",
            policy=policy,
            endpoint=settings.aliyun_sms_endpoint,
        )

    def __post_init__(self) -> None:
        self.client = Client(
            client_config(self.access_key_id, self.access_key_secret, self.endpoint)
        )

    @staticmethod
    def runtime() -> RuntimeOptions:
        return RuntimeOptions(
            autoretry=False,
            max_attempts=1,
            read_timeout=TIMEOUT_MS,
            connect_timeout=CONNECT_TIMEOUT_MS,
        )

    def request_for(self, message: OutgoingMessage) -> dysms.SendSmsRequest:
        template_code, values = self.template_values(message)
        return dysms.SendSmsRequest(
            phone_numbers=national_mainland(message.to),
            sign_name=self.sign_name,
            template_code=template_code,
            template_param=json.dumps(dict(values), ensure_ascii=False),
            out_id=reference_of(message),
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        request = self.request_for(message)
        response = answer_of(
            lambda: self.client.send_sms_with_options(request, self.runtime()),
            ERROR_CLASSES,
            "Aliyun",
        )
        body = response.body
        code = (body.code or "").strip() if body is not None else ""
        if code == "OK" and body is not None and body.biz_id:
            return SendResult(provider_sid=body.biz_id, status="sent")
        message_text = (body.message or "") if body is not None else ""
        if code == "OK":
            raise TransientSendError("no-biz-id", "Aliyun accepted the message but gave no BizId")
        raise classified_error(code, ERROR_CLASSES, message_text, retry_after(message_text))

    def query_send_details(
        self, phone: str, day: date, *, biz_id: str | None = None
    ) -> Iterator[SendDetail]:
        """What Aliyun knows of messages to `phone` on `day` (China time), page by page."""
        page = 1
        while True:
            request = dysms.QuerySendDetailsRequest(
                phone_number=national_mainland(phone),
                send_date=day.strftime("%Y%m%d"),
                page_size=50,
                current_page=page,
                biz_id=biz_id,
            )
            response = self.client.query_send_details_with_options(request, self.runtime())
            body = response.body
            if body is None or body.code != "OK":
                code = body.code if body is not None else "empty"
                raise TransientSendError(str(code), str(body.message if body else ""))
            details = (
                body.sms_send_detail_dtos.sms_send_detail_dto
                if body.sms_send_detail_dtos is not None
                else []
            ) or []
            for item in details:
                yield SendDetail(
                    phone=str(item.phone_num or ""),
                    send_status=int(item.send_status or 0),
                    err_code=str(item.err_code or ""),
                    out_id=str(item.out_id or ""),
                    template_code=str(item.template_code or ""),
                    send_date=str(item.send_date or ""),
                    receive_date=str(item.receive_date or ""),
                )
            total = int(body.total_count or 0)
            if page * 50 >= total or not details:
                return
            page += 1


def classified_exception(
    error: AlibabaCloudException, classes: dict[str, frozenset[str]]
) -> SendError:
    """An Aliyun SDK exception as our `SendError`: its code classified by `classes`;
    throttling and server errors transient, refused credentials configuration."""
    code = str(error.code or f"http-{error.status_code}")
    status = int(error.status_code or 0)
    kind = classify(code, classes)
    if status >= 500 or status == 429 or code.startswith("Throttling"):
        kind = "transient"
    elif status in (401, 403) and kind == "transient":
        kind = CONFIGURATION
    message = str(error.message or "")
    return error_for(kind, code, message, retry_after(message))


def answer_of(
    request: Callable[[], _Answer], classes: dict[str, frozenset[str]], service: str
) -> _Answer:
    """What an Aliyun SDK call answered, or our `SendError` for what it raised."""
    try:
        return request()
    except AlibabaCloudException as error:
        raise classified_exception(error, classes) from error
    except Exception as error:  # timeouts and connection errors, wrapped by the SDK
        raise TransientSendError(
            "network", f"{service} did not answer: {type(error).__name__}: {error}"
        ) from error


def client_config(access_key_id: str, access_key_secret: str, endpoint: str) -> open_api.Config:
    """An Aliyun SDK client's configuration: `endpoint` is `host[:port]` or a URL (a
    local stand-in), with our timeouts."""
    where = parse_endpoint(endpoint)
    return open_api.Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        endpoint=where.host,
        protocol=where.protocol,
        read_timeout=TIMEOUT_MS,
        connect_timeout=CONNECT_TIMEOUT_MS,
    )
