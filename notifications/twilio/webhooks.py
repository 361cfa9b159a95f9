"""Twilio's webhooks: inbound SMS and delivery status, both signed by Twilio.

The signature is checked against `PUBLIC_BASE_URL` + path + query (what
Twilio was told to call; `PUBLIC_BASE_URL` includes any path prefix the
service is published under). Without `PUBLIC_BASE_URL`, against the URL of
the request as werkzeug sees it, which honours `X-Forwarded-Proto/Host/Port/
Prefix` only when `TRUSTED_PROXY_COUNT` installs `ProxyFix`. Twilio may sign
with or without the default port; the library's validator accepts both.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from xml.sax.saxutils import escape

from flask import Blueprint, Request, Response, request
from twilio.request_validator import RequestValidator

from config.clock import now as clock_now
from config.runtime import current_settings
from config.settings import Settings
from grids.storage.session import current_db, request_session
from grids.web.errors import error_response
from i18n import translate
from notifications.delivery import PROVIDER_STATUSES, keep_early_status, record_status
from notifications.inbound import IncomingSms, SpoolUnavailable, receive
from notifications.twilio.fields import MAX_BODY_BYTES, MAX_PARAMETERS, malformed_fields

log = logging.getLogger(__name__)

twilio_webhooks = Blueprint("twilio_webhooks", __name__)


@twilio_webhooks.before_request
def limit_request_size() -> Any:
    """Refuse a body larger than Twilio ever sends before reading it (413), and bound
    what form parsing may hold when the length is not announced (chunked)."""
    request.max_content_length = MAX_BODY_BYTES
    request.max_form_memory_size = MAX_BODY_BYTES
    request.max_form_parts = MAX_PARAMETERS
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _too_large()
    return None


def _too_large() -> Any:
    return error_response(
        413,
        "request_too_large",
        translate(
            "http.error.request_too_large",
            current_settings().default_language,
            limit=MAX_BODY_BYTES,
            parameters=MAX_PARAMETERS,
        ),
    )


def well_formed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse with 400 a request with too many parameters or an identifier (SID, account,
    number, code) that is not of Twilio's documented form."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        form = request.form
        if len(form) > MAX_PARAMETERS:
            return _too_large()
        problems = malformed_fields(form)
        if problems:
            log.warning("refused a request to %s: malformed %s", request.path, sorted(problems))
            return error_response(
                400,
                "malformed_fields",
                translate("http.error.malformed_fields", current_settings().default_language),
                problems,
            )
        return view(*args, **kwargs)

    return wrapper


def signed_url(settings: Settings, incoming: Request) -> str:
    """The URL Twilio signed: the base it was given, the path, and the query byte for byte.

    `request.url` would not do for the query: werkzeug turns it into an IRI,
    decoding percent-escapes Twilio signed as they were.
    """
    base = (
        settings.public_base_url.rstrip("/") + incoming.path
        if settings.public_base_url
        else incoming.base_url
    )
    query = incoming.query_string.decode("latin-1")
    return base + (f"?{query}" if query else "")


def signature_is_valid(settings: Settings, incoming: Request) -> bool:
    signature = incoming.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.twilio_auth_token:
        return False
    validator = RequestValidator(settings.twilio_auth_token)
    url = signed_url(settings, incoming)
    # Twilio signs the URL it was given, so one signature usually settles it; the
    # library's check (which also tries the URL with and without the default port, two
    # more signatures) is for the rest.
    if hmac.compare_digest(
        validator.compute_signature(url, incoming.form).encode(), signature.encode()
    ):
        return True
    return validator.validate(url, incoming.form, signature)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse with 403 any request whose X-Twilio-Signature does not match."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = current_settings()
        if settings.twilio_validate_signature and not signature_is_valid(settings, request):
            log.warning(
                "refused a request to %s: %s",
                request.path,
                "TWILIO_AUTH_TOKEN is not set, so no signature can be checked"
                if not settings.twilio_auth_token
                else "X-Twilio-Signature is missing or does not match the URL "
                f"{signed_url(settings, request)} (PUBLIC_BASE_URL must be what Twilio calls)",
            )
            return error_response(
                403,
                "invalid_signature",
                translate("http.error.invalid_signature", settings.default_language),
            )
        return view(*args, **kwargs)

    return wrapper


_TWIML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def twiml(reply: str | None) -> Response:
    """The reply as TwiML, written out as the twilio library's `MessagingResponse`
    writes it (a tenth of its cost: it builds an element tree for one element)."""
    if reply:
        text = f"{_TWIML_HEAD}<Response><Message>{escape(reply)}</Message></Response>"
    else:
        text = f"{_TWIML_HEAD}<Response />"
    return Response(text, mimetype="application/xml")


@twilio_webhooks.post("/sms/twilio/inbound")
@twilio_signed
@well_formed
def inbound() -> Any:
    """Store, parse, apply and answer one inbound SMS; the reply as TwiML."""
    settings = current_settings()
    sms = IncomingSms.from_form(request.form)
    if not sms.message_sid:
        return error_response(
            400,
            "missing_message_sid",
            translate("sms.reply.missing_message_sid", settings.default_language),
        )
    try:
        return twiml(receive(current_db(), settings, sms, clock_now()))
    except SpoolUnavailable:
        # Neither the database nor the local spool could keep the message: a non-2xx
        # answer makes Twilio call the number's fallback URL (docs/resilience.md).
        return error_response(
            503,
            "unavailable",
            translate("http.error.inbound_unavailable", settings.default_language),
        )


@twilio_webhooks.post("/sms/twilio/status")
@twilio_signed
@well_formed
def status() -> Any:
    """A delivery status; 204 whatever the SID, 400 if fields are missing."""
    form = request.form
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    state = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip()
    if not sid or not state:
        return error_response(
            400,
            "missing_fields",
            translate("outbox.error.status_fields", current_settings().default_language),
            {
                name: "required"
                for name, value in (("MessageSid", sid), ("MessageStatus", state))
                if not value
            },
        )
    if state.lower() not in PROVIDER_STATUSES:
        log.warning("status callback for %s with unknown status %r", sid, state)
        return Response(status=204)
    session = request_session()
    now = clock_now()
    row = record_status(session, sid, state, form.get("ErrorCode"), now)
    if row is None:
        # The callback overtook the dispatcher's record of the SID: keep it for then.
        log.info("status %s for SID %s not recorded yet; kept until it is", state, sid)
        keep_early_status(session, sid, state, form.get("ErrorCode"), now)
    session.commit()
    return Response(status=204)
