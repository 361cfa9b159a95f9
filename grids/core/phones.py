"""Phone numbers: E.164 everywhere, bare Chinese 11-digit mobiles accepted."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

DEFAULT_REGION = "CN"
_SEPARATORS = str.maketrans("", "", " -()\u00a0\u3000.")


class InvalidPhone(ValueError):
    """The text is not a valid phone number; `reason` says why for the error message."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """`13912345678`, `+86 139-1234-5678`, `０１３９…` -> `+8613912345678`.

    Raises `InvalidPhone` with reason `empty`, `unparseable` or `invalid`.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip().translate(_SEPARATORS)
    if not text:
        raise InvalidPhone(raw, "empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    e164, reason = _to_e164(text, region)
    if e164 is None:
        raise InvalidPhone(raw, reason)
    return e164


@lru_cache(maxsize=16384)
def _to_e164(text: str, region: str) -> tuple[str | None, str]:
    """(E.164, "") or (None, reason). Cached: the same few thousand numbers text in every
    week, and parsing one costs more than the rest of reading an inbound SMS's fields."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None, "unparseable"
    if not phonenumbers.is_valid_number(number):
        return None, "invalid"
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), ""


def is_mobile(e164: str) -> bool:
    number = phonenumbers.parse(e164, None)
    return phonenumbers.number_type(number) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
