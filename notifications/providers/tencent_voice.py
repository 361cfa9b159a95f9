"""Tencent Cloud voice messages (VMS 2020-09-02) through its official SDK.

The SDK is `tencentcloud-sdk-python-vms`.

A call goes out as `SendTtsVoice` to one number (E.164) with the approved template's
id mapped under its `voice.*` name in `SMS_TEMPLATE_MAP`, its variables as
`TemplateParamSet` (strings in template order), the voice app `TENCENT_VMS_APP_ID`,
played twice (`PlayTimes=2`), and our outbox id as `SessionContext`. No SDK retries
(the SDK's default retryer does nothing): the dispatcher owns them. A refusal raises
`TencentCloudSDKException`, classified as for SMS. The API has no query of a call's
result: results come only by push (`notifications.mainland.voice_pushes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vms.v20200902 import models as vms_models
from tencentcloud.vms.v20200902.vms_client import VmsClient

from config.settings import Settings
from notifications.provider_templates import TemplateNotSendable, TemplatePolicy
from notifications.providers import base, mainland
from notifications.providers import tencent as tencent_sms
from notifications.providers.voice import PLAY_TIMES, VoiceProvider

ERROR_CLASSES: dict[str, frozenset[str]] = {
    mainland.RECIPIENT: frozenset(
        {
            "InvalidParameterValue.CalledNumberVerifyFail",
            "FailedOperation.PhonenumberUnappliedOrExpired",
        }
    ),
    mainland.CONFIGURATION: frozenset(
        {
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "FailedOperation.ContainSensitiveWord",
            "FailedOperation.InvalidParameters",
            "FailedOperation.InvalidJsonParameters",
            "FailedOperation.ParametersOtherError",
            "InvalidParameterValue.ContentLengthLimit",
            "InvalidParameterValue.SdkAppidNotExist",
            "UnauthorizedOperation.SdkAppidIsDisabled",
            "UnauthorizedOperation.VoiceSdkAppidVerifyFail",
            "UnsupportedOperation",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.SignatureFailure",
            "AuthFailure.UnauthorizedOperation",
        }
    ),
    mainland.ACCOUNT: frozenset(
        {
            "FailedOperation.InsufficientBalanceInVoicePackage",
            "UnauthorizedOperation.ServiceSuspendDueToArrears",
        }
    ),
}
"""Tencent VMS error codes by class; anything else (`LimitExceeded.DeliveryFrequencyLimit`,
`InternalError.*`, `FailedOperation.AccessUpstreamTimeout`, network errors) is transient."""

RETRY_AFTER: dict[str, float] = {"LimitExceeded.DeliveryFrequencyLimit": 60.0}


@dataclass
class TencentVoiceProvider(VoiceProvider):
    secret_id: str
    secret_key: str
    app_id: str
    policy: TemplatePolicy
    endpoint: str = "vms.tencentcloudapi.com"
    name: ClassVar[str] = "tencent"
    client: VmsClient = field(init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, policy: TemplatePolicy) -> TencentVoiceProvider:
        return cls(
            secret_id=settings.tencent_secret_id or "",
            secret_key=settings.tencent_secret_key or "",
            app_id=settings.tencent_vms_app_id or "",
            policy=policy,
            endpoint=settings.tencent_voice_endpoint,
        )

    def __post_init__(self) -> None:
        endpoint = mainland.parse_endpoint(self.endpoint)
        http = HttpProfile(
            protocol=endpoint.protocol,
            endpoint=endpoint.host,
            reqTimeout=tencent_sms.TIMEOUT_SECONDS,
        )
        self.client = VmsClient(
            credential.Credential(self.secret_id, self.secret_key),
            tencent_sms.REGION,
            ClientProfile(httpProfile=http),
        )

    @property
    def sender(self) -> str:
        return f"vms:{self.app_id}"

    def request_for(self, message: base.OutgoingMessage) -> vms_models.SendTtsVoiceRequest:
        try:
            template_id, values = self.policy.provider_values(
                message.template, message.language, message.params
            )
        except TemplateNotSendable as error:
            raise base.ProviderAccountError("template", str(error)) from error
        request = vms_models.SendTtsVoiceRequest()
        request.TemplateId = template_id
        request.CalledNumber = message.to
        request.VoiceSdkAppid = self.app_id
        request.TemplateParamSet = [value for _, value in values]
        request.PlayTimes = PLAY_TIMES
        request.SessionContext = str(
            message.outbox_id if message.outbox_id is not None else message.reference
        )
        return request

    def call(self, message: base.OutgoingMessage) -> base.SendResult:
        request = self.request_for(message)
        try:
            response = self.client.SendTtsVoice(request)
        except TencentCloudSDKException as error:
            code = str(error.get_code() or "sdk")
            raise mainland.error_for(
                mainland.classify(code, ERROR_CLASSES),
                code,
                str(error.get_message() or ""),
                RETRY_AFTER.get(code),
            ) from error
        except Exception as error:
            raise base.TransientSendError(
                "network", f"Tencent Cloud voice did not answer: {type(error).__name__}: {error}"
            ) from error
        status = response.SendStatus
        if status is None or not status.CallId:
            raise base.TransientSendError(
                "no-call-id", "Tencent Cloud accepted the call but no CallId"
            )
        return base.SendResult(provider_sid=str(status.CallId), status="sent")
