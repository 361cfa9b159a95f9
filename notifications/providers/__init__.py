"""SMS providers, chosen by `SMS_BACKEND`: twilio, console, memory.

`init_app` builds the one provider of the application and keeps it in
`app.extensions`; the dispatcher and CLI get it with `current_provider()`.
"""

from __future__ import annotations

from flask import Flask, current_app

from config.runtime import settings_of
from config.settings import Settings
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


def build_provider(settings: Settings) -> SmsProvider:
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


def init_app(app: Flask) -> None:
    from notifications.providers.voice import build_voice_provider

    app.extensions[PROVIDER_KEY] = build_provider(settings_of(app))
    app.extensions[VOICE_PROVIDER_KEY] = build_voice_provider(settings_of(app))


def provider_of(app: Flask) -> SmsProvider:
    return app.extensions[PROVIDER_KEY]


def current_provider() -> SmsProvider:
    return provider_of(current_app)


def voice_provider_of(app: Flask) -> VoiceProvider:
    return app.extensions[VOICE_PROVIDER_KEY]


def current_voice_provider() -> VoiceProvider:
    return voice_provider_of(current_app)
