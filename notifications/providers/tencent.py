"""Tencent Cloud SMS (2021-01-11) through its official SDK, `tencentcloud-sdk-python-sms`.

A message goes out as `SendSms` to one number with the approved template's id,
its variables as `TemplateParamSet` (strings in template order), the signature
text `TENCENT_SMS_SIGN_NAME`, the SDK app id, and our outbox id as
`SessionContext` (echoed in status reports). No SDK retries (the SDK's
default retryer does nothing): the dispatcher owns them. A per-number failure
comes back as `SendStatusSet[0].Code` in an HTTP 200 answer; a request-level
one raises `TencentCloudSDKException`; both are classified here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, TypeVar

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tencent_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from config.settings import Settings
from notifications.provider_templates import TemplatePolicy
from notifications.providers.base import OutgoingMessage, SendResult, TransientSendError
from notifications.providers.mainland import (
    ACCOUNT,
    CONFIGURATION,
    RECIPIENT,
    MainlandSmsProvider,
    classified_error,
    parse_endpoint,
    reference_of,
)

REGION = "ap-guangzhou"
TIMEOUT_SECONDS = 10
PULL_LIMIT = 100

_Pull = TypeVar(
    "_Pull",
    tencent_models.PullSmsReplyStatusByPhoneNumberRequest,
    tencent_models.PullSmsSendStatusByPhoneNumberRequest,
)

ERROR_CLASSES: dict[str, frozenset[str]] = {
    RECIPIENT: frozenset(
        {
            "InvalidParameterValue.IncorrectPhoneNumber",
            "FailedOperation.PhoneNumberParseFail",
            "FailedOperation.PhoneNumberInBlacklist",
            "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
        }
    ),
    CONFIGURATION: frozenset(
        {
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
            "FailedOperation.MarketingTemplateWithoutUnsubscribe",
            "InvalidParameterValue.TemplateParameterLengthLimit",
            "InvalidParameterValue.TemplateParameterFormatError",
            "InvalidParameterValue.ContentLengthLimit",
            "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
            "InvalidParameterValue.SdkAppIdNotExist",
            "UnsupportedOperation.UnsupportedTemplateVariable",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.SignatureFailure",
            "AuthFailure.UnauthorizedOperation",
            "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
            "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny",
            "UnauthorizedOperation.RequestPermissionDeny",
            "UnauthorizedOperation.RequestIpNotInWhitelist",
            "UnauthorizedOperation.SerivceSuspendDueToArrears",
        }
    ),
    ACCOUNT: frozenset(
        {
            "FailedOperation.InsufficientBalanceInSmsPackage",
            "UnauthorizedOperation.ServiceSuspendDueToArrears",
            "LimitExceeded.AppDailyLimit",
            "LimitExceeded.AppMainlandChinaDailyLimit",
            "LimitExceeded.AppGlobalDailyLimit",
        }
    ),
}
"""Tencent's error codes by class; anything else (`LimitExceeded.PhoneNumber*`,
`InternalError.*`, `RequestLimitExceeded`, network errors) is transient."""

RETRY_AFTER: dict[str, float] = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    "LimitExceeded.PhoneNumberDailyLimit": 3600.0,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": 3600.0,
    "LimitExceeded.DeliveryFrequencyLimit": 60.0,
}


@dataclass(frozen=True)
class PulledReply:
    phone: str
    text: str
    sent_at: int
    """Unix seconds."""
    sign_name: str


@dataclass(frozen=True)
class PulledStatus:
    phone: str
    serial_no: str
    session_context: str
    report_status: str
    description: str
    received_at: int


@dataclass
class TencentProvider(MainlandSmsProvider):
    secret_id: str
    secret_key: str
    app_id: str
    sign_name: str
    policy: TemplatePolicy
    endpoint: str = "sms.tencentcloudapi.com"
    name: ClassVar[str] = "tencent"
    client: SmsClient = field(init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, policy: TemplatePolicy) -> TencentProvider:
        return cls(
            secret_id=settings.tencent_secret_id or "",
            secret_key=settings.tencent_secret_key or "",
            app_id=settings.tencent_sms_app_id or "",
            sign_name=settings.tencent_sms_sign_name or "",
            policy=policy,
            endpoint=settings.tencent_sms_endpoint,
        )

    def __post_init__(self) -> None:
        endpoint = parse_endpoint(self.endpoint)
        http = HttpProfile(
            protocol=endpoint.protocol, endpoint=endpoint.host, reqTimeout=TIMEOUT_SECONDS
        )
        self.client = SmsClient(
            credential.Credential(self.secret_id, self.secret_key),
            REGION,
            ClientProfile(httpProfile=http),
        )

    def request_for(self, message: OutgoingMessage) -> tencent_models.SendSmsRequest:
        template_id, values = self.template_values(message)
        request = tencent_models.SendSmsRequest()
        request.PhoneNumberSet = [message.to]
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = [value for _, value in values]
        request.SessionContext = reference_of(message)
        return request

    def send(self, message: OutgoingMessage) -> SendResult:
        request = self.request_for(message)
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            code = str(error.get_code() or "sdk")
            raise classified_error(
                code, ERROR_CLASSES, str(error.get_message() or ""), RETRY_AFTER.get(code)
            ) from error
        except Exception as error:
            raise TransientSendError(
                "network", f"Tencent Cloud did not answer: {type(error).__name__}: {error}"
            ) from error
        statuses = response.SendStatusSet or []
        if not statuses:
            raise TransientSendError("no-status", "Tencent Cloud answered without a SendStatusSet")
        status = statuses[0]
        code = str(status.Code or "")
        if code.lower() == "ok" and status.SerialNo:
            return SendResult(provider_sid=str(status.SerialNo), status="sent")
        raise classified_error(
            code, ERROR_CLASSES, str(status.Message or ""), RETRY_AFTER.get(code)
        )

    def pull_replies(self, phone: str, begin: datetime, end: datetime) -> Iterator[PulledReply]:
        """Replies from `phone` between `begin` and `end` (at most the last 7 days)."""
        request = self._pull(
            tencent_models.PullSmsReplyStatusByPhoneNumberRequest(), phone, begin, end
        )
        response = self.client.PullSmsReplyStatusByPhoneNumber(request)
        for item in response.PullSmsReplyStatusSet or []:
            yield PulledReply(
                phone=str(item.PhoneNumber or phone),
                text=str(item.ReplyContent or ""),
                sent_at=_unix(item.ReplyTime),
                sign_name=str(item.SignName or ""),
            )

    def pull_statuses(self, phone: str, begin: datetime, end: datetime) -> Iterator[PulledStatus]:
        """Delivery reports of messages to `phone` between `begin` and `end`."""
        request = self._pull(
            tencent_models.PullSmsSendStatusByPhoneNumberRequest(), phone, begin, end
        )
        response = self.client.PullSmsSendStatusByPhoneNumber(request)
        for item in response.PullSmsSendStatusSet or []:
            yield PulledStatus(
                phone=str(item.PhoneNumber or phone),
                serial_no=str(item.SerialNo or ""),
                session_context=str(item.SessionContext or ""),
                report_status=str(item.ReportStatus or ""),
                description=str(item.Description or ""),
                received_at=_unix(item.UserReceiveTime),
            )

    def _pull(self, request: _Pull, phone: str, begin: datetime, end: datetime) -> _Pull:
        """Fill the fields both pull requests share: our app, one number, a time range."""
        request.BeginTime = int(begin.timestamp())
        request.EndTime = int(end.timestamp())
        request.Offset = 0
        request.Limit = PULL_LIMIT
        request.PhoneNumber = phone
        request.SmsSdkAppId = self.app_id
        return request


def _unix(value: object) -> int:
    """A Unix time in seconds as the API gives it; 0 when it is missing or not a number."""
    try:
        return int(str(value))
    except ValueError:
        return 0
