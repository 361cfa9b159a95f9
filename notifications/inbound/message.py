"""An inbound SMS as the providers post it, and what can be told of it before its
sender is known."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grids.core.phones import InvalidPhone, normalise_phone
from i18n import normalise_language

_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class IncomingSms:
    """The fields of Twilio's inbound webhook that we use; the rest is kept raw."""

    message_sid: str
    from_raw: str
    from_phone: str
    to_phone: str | None
    body: str
    params: dict[str, str]

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> IncomingSms:
        params = form.to_dict() if hasattr(form, "to_dict") else dict(form)
        # PostgreSQL text cannot hold NUL; keep the rest of the message as sent.
        params = {str(k): str(v).replace("\x00", "\ufffd") for k, v in params.items()}
        from_raw = params.get("From", "")
        try:
            from_phone = normalise_phone(from_raw)
        except InvalidPhone:
            from_phone = from_raw.strip()[:32]
        return cls(
            message_sid=(params.get("MessageSid") or params.get("SmsSid") or "").strip()[:64],
            from_raw=from_raw,
            from_phone=from_phone,
            to_phone=(params.get("To") or None),
            body=params.get("Body", ""),
            params=params,
        )


def guess_language(body: str, default: str) -> str:
    """The language of a reply given without the sender's record: what the text is
    written in, else `default`."""
    if _HAN.search(body):
        return "zh_CN"
    if _LATIN.search(body):
        return "en"
    return normalise_language(default)
