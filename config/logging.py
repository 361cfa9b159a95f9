"""Logging set-up. Phone numbers never reach a log line unmasked."""

from __future__ import annotations

import logging
import re
import sys

_PHONE = re.compile(r"(?<![\w*])(\+?\d{1,3})?(\d{3})(\d{4})(\d{4})(?!\d)")
_E164 = re.compile(r"\+(\d{2})(\d{3})\d{2,6}(\d{4})(?!\d)")


def mask_phone(phone: str | None) -> str:
    """`+8613912345678` -> `+86139****5678`; anything short is masked whole."""
    if not phone:
        return ""
    digits = phone.strip()
    match = re.fullmatch(r"(\+\d{2})(\d{3})(\d+)(\d{4})", digits)
    if match:
        return f"{match.group(1)}{match.group(2)}****{match.group(4)}"
    match = re.fullmatch(r"(\d{3})(\d+)(\d{4})", digits)
    if match:
        return f"{match.group(1)}****{match.group(3)}"
    return "****"


def mask_phones_in(text: str) -> str:
    """Mask every phone-number-looking run of digits in free text."""
    text = _E164.sub(lambda m: f"+{m.group(1)}{m.group(2)}****{m.group(3)}", text)
    return _PHONE.sub(
        lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}",
        text,
    )


class PhoneMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones_in(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class PhoneMaskingFormatter(logging.Formatter):
    """Masks numbers in the whole line written, tracebacks and stack included.

    Exception texts carry numbers too: a provider's "The 'To' number ... is not
    valid", a database error quoting the row it refused.
    """

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones_in(super().format(record))


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_huzhu", False) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._huzhu = True  # type: ignore[attr-defined]
    handler.setFormatter(PhoneMaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
