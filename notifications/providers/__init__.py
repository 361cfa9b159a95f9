"""SMS providers, chosen by `SMS_BACKEND`: twilio, aliyun, tencent, console, memory.

`init_app` builds the one provider of the application and keeps it in
`app.extensions`; the dispatcher and CLI get it with `current_provider()`.
"""

from __future__ import annotations

from flask import Flask, current_app

from config.runtime import settings_of
from config.settings import MAINLAND_BACKENDS, Settings, SettingsError
from grids.storage.session import database_of
from notifications.outbox import use_template_policy
from notifications.provider_templates import ChannelTemplates, TemplatePolicy, load_template_map
from notifications.providers.base import (
    OutgoingMessage,
    PermanentSendError,
    ProviderAccountError,
    SendError,
    SendResult,
    SmsProvider,
    TransientSendError,
)
from notifications.providers.voice import VoiceProvider

PROVIDER_KEY = "huzhu.sms_provider"
VOICE_PROVIDER_KEY = "huzhu.voice_provider"
STATUS_CALLBACK_PATH = "/sms/twilio/status"

__all__ = [
    "OutgoingMessage",
    "PermanentSendError",
    "ProviderAccountError",
    "SendError",
    "SendResult",
    "SmsProvider",
    "TransientSendError",
    "build_provider",
    "current_provider",
    "current_voice_provider",
    "init_app",
    "provider_of",
    "voice_provider_of",
]


def build_provider(settings: Settings, policy: TemplatePolicy | None = None) -> SmsProvider:
    if settings.sms_backend in MAINLAND_BACKENDS:
        policy = policy or build_template_policy(settings)
        assert policy is not None
        if settings.sms_backend == "aliyun":
            from notifications.providers.aliyun import AliyunProvider

            return AliyunProvider.from_settings(settings, policy)
        from notifications.providers.tencent import TencentProvider

        return TencentProvider.from_settings(settings, policy)
    if settings.sms_backend == "twilio":
        from notifications.providers.twilio import TwilioProvider

        return TwilioProvider(
            account_sid=settings.twilio_account_sid or "",
            auth_token=settings.twilio_auth_token or "",
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback=(
                settings.public_base_url + STATUS_CALLBACK_PATH
                if settings.public_base_url
                else None
            ),
            api_base_url=settings.twilio_api_base_url,
        )
    if settings.sms_backend == "memory":
        from notifications.providers.memory import MemoryProvider

        return MemoryProvider()
    from notifications.providers.console import ConsoleProvider

    return ConsoleProvider()


def build_template_policy(settings: Settings) -> TemplatePolicy | None:
    """The template rules of a mainland backend (None for those that send free text)."""
    if settings.sms_backend not in MAINLAND_BACKENDS:
        return None
    limit = (
        settings.aliyun_sms_variable_limit
        if settings.sms_backend == "aliyun"
        else settings.tencent_sms_variable_limit
    )
    try:
        ids = load_template_map(settings.sms_template_map)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    return TemplatePolicy(settings.sms_backend, limit, ids)


def init_app(app: Flask) -> None:
    from notifications.providers.voice import build_voice_provider, build_voice_template_policy

    settings = settings_of(app)
    policy = build_template_policy(settings)
    voice_policy = build_voice_template_policy(settings)
    use_template_policy(
        database_of(app).engine,
        ChannelTemplates(policy, voice_policy) if policy or voice_policy else None,
    )
    app.extensions[PROVIDER_KEY] = build_provider(settings, policy)
    app.extensions[VOICE_PROVIDER_KEY] = build_voice_provider(settings, voice_policy)


def provider_of(app: Flask) -> SmsProvider:
    return app.extensions[PROVIDER_KEY]


def current_provider() -> SmsProvider:
    return provider_of(current_app)


def voice_provider_of(app: Flask) -> VoiceProvider:
    return app.extensions[VOICE_PROVIDER_KEY]


def current_voice_provider() -> VoiceProvider:
    return voice_provider_of(current_app)
