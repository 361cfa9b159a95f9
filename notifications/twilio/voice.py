"""Twilio's voice webhook: the key pressed on an escalation call, signed like the SMS ones.

The call is found by its `CallSid` in the outbox (the row that placed it), which names
the escalation and the callee; no personal data travels in the URL. 1 acknowledges the
case as that callee; any other key (or none) is put on the timeline and the callee is
told how to acknowledge by SMS.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from config.clock import now as clock_now
from config.runtime import current_settings
from grids.escalation.acknowledgement import AckRefused, record_keypress
from grids.escalation.keys import escalation_of_key
from grids.storage.session import request_session
from i18n import normalise_language, translate
from notifications.inbound import acknowledge_by_call
from notifications.models import OutboxMessage
from notifications.providers.voice import GATHER_PATH, SAY_LANGUAGES
from notifications.twilio.webhooks import twilio_signed

log = logging.getLogger(__name__)

twilio_voice = Blueprint("twilio_voice", __name__)

ACKNOWLEDGE_KEY = "1"


def _say(text: str, language: str) -> Response:
    response = VoiceResponse()
    response.say(text, language=SAY_LANGUAGES.get(language, "zh-CN"))
    return Response(str(response), mimetype="application/xml")


@twilio_voice.post(GATHER_PATH)
@twilio_signed
def gather() -> Any:
    """The keypress of an escalation call: 1 acknowledges; TwiML answers the callee."""
    settings = current_settings()
    now = clock_now()
    call_sid = (request.form.get("CallSid") or "").strip()
    digits = (request.form.get("Digits") or "").strip()
    session = request_session()
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_sid == call_sid))
    escalation_id = escalation_of_key(row.idempotency_key) if row is not None else None
    if row is None or escalation_id is None:
        log.warning("keypress for unknown call %s", call_sid or "-")
        language = normalise_language(settings.default_language)
        return _say(translate("voice.gather.no_input", language, code=""), language)
    language = normalise_language(row.language)
    escalation = record_keypress(session, escalation_id, row.to_phone, digits, now)
    code = escalation.code if escalation is not None else ""
    if digits != ACKNOWLEDGE_KEY or escalation is None:
        session.commit()
        return _say(translate("voice.gather.no_input", language, code=code), language)
    outcome = acknowledge_by_call(session, settings, row.to_phone, code, now)
    session.commit()
    if isinstance(outcome, AckRefused):
        return _say(translate("voice.gather.not_acknowledged", language, code=code), language)
    return _say(translate("voice.gather.acknowledged", language), language)
