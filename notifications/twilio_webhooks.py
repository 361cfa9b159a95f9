"""Twilio's webhooks: inbound SMS and delivery status, both signed by Twilio.

The signature is checked against `PUBLIC_BASE_URL` + path (what Twilio was
told to call). Without `PUBLIC_BASE_URL`, against the URL of the request as
werkzeug sees it, which honours `X-Forwarded-*` only when `TRUSTED_PROXY_COUNT`
installs `ProxyFix`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Request, request
from twilio.request_validator import RequestValidator

from config.runtime import current_settings
from config.settings import Settings
from grids.http_errors import error_response
from i18n import translate

log = logging.getLogger(__name__)

twilio_webhooks = Blueprint("twilio_webhooks", __name__)


def signed_url(settings: Settings, incoming: Request) -> str:
    if settings.public_base_url:
        query = incoming.query_string.decode("latin-1")
        return settings.public_base_url + incoming.path + (f"?{query}" if query else "")
    return incoming.url


def signature_is_valid(settings: Settings, incoming: Request) -> bool:
    signature = incoming.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.twilio_auth_token:
        return False
    validator = RequestValidator(settings.twilio_auth_token)
    return validator.validate(signed_url(settings, incoming), incoming.form, signature)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse with 403 any request whose X-Twilio-Signature does not match."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = current_settings()
        if settings.twilio_validate_signature and not signature_is_valid(settings, request):
            log.warning("refused unsigned or wrongly signed request to %s", request.path)
            return error_response(
                403,
                "invalid_signature",
                translate("http.error.invalid_signature", settings.default_language),
            )
        return view(*args, **kwargs)

    return wrapper


@twilio_webhooks.post("/sms/twilio/inbound")
@twilio_signed
def inbound() -> Any:
    from notifications.inbound import twilio_inbound_response

    return twilio_inbound_response(request.form)


@twilio_webhooks.post("/sms/twilio/status")
@twilio_signed
def status() -> Any:
    from notifications.delivery import twilio_status_response

    return twilio_status_response(request.form)
