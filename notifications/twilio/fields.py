"""The form of every identifier Twilio posts to our webhooks.

Twilio's signature covers names and values concatenated without separators, so a
captured request can be replayed with its parameter boundaries shifted (part of
`NumMedia0` folded into `MessageSid`) under the same signature. A field that is
not of its documented form is therefore refused, whatever the signature says.
Pure: no Flask, no database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_HEX32 = r"[0-9a-fA-F]{32}"
_PHONE = r"\+[1-9][0-9]{1,14}|[0-9]{3,15}"
"""E.164, or a short code / national number of digits only."""

FIELD_PATTERNS: dict[str, re.Pattern[str]] = {
    "MessageSid": re.compile(rf"(?:SM|MM){_HEX32}"),
    "SmsSid": re.compile(rf"(?:SM|MM){_HEX32}"),
    "SmsMessageSid": re.compile(rf"(?:SM|MM){_HEX32}"),
    "AccountSid": re.compile(rf"AC{_HEX32}"),
    "MessagingServiceSid": re.compile(rf"MG{_HEX32}"),
    "From": re.compile(_PHONE),
    "To": re.compile(_PHONE),
    "NumMedia": re.compile(r"[0-9]{1,2}"),
    "NumSegments": re.compile(r"[0-9]{1,3}"),
    "ErrorCode": re.compile(r"[0-9]{1,6}"),
    "MessageStatus": re.compile(r"[a-z_]{1,32}"),
    "SmsStatus": re.compile(r"[a-z_]{1,32}"),
    "ApiVersion": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
}
"""Every identifier field we read or that shifts under a boundary replay."""

MAX_PARAMETERS = 64
"""Twilio sends about 20 fields, plus two per media item (at most 10)."""

MAX_BODY_BYTES = 64 * 1024
"""An SMS body is at most 1,600 characters; with every other field, far under this."""


def malformed_fields(form: Mapping[str, str]) -> dict[str, str]:
    """Each present field that is not of its documented form, with what it must be."""
    problems: dict[str, str] = {}
    for name, pattern in FIELD_PATTERNS.items():
        value = form.get(name)
        if value is None or value == "":
            continue
        if not pattern.fullmatch(value):
            problems[name] = f"must match {pattern.pattern}"
    return problems
