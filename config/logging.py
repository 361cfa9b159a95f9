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


_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")
_SEP = r"[-\s\u00a0\u3000.]?"
_WRITTEN = re.compile(
    # Every form `roster import` accepts: separators, +86 or 0086, right after Chinese
    # text (`电话13912345678`, where a word boundary does not help), landlines.
    r"(?<![0-9A-Za-z+*])(?:"
    rf"(?P<prefix>(?:\+|00)\s?86{_SEP})(?:1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}"
    rf"|[1-9]\d{{1,2}}{_SEP}\d{{7,8}})"
    rf"|1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}|0[1-9]\d{{1,2}}{_SEP}\d{{7,8}}"
    r")(?![0-9A-Za-z])"
)


def _mask_written(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if match.group("prefix"):
        digits = digits.removeprefix("00").removeprefix("86")
        return f"+86{digits[:3]}****{digits[-4:]}"
    return f"{digits[:3]}****{digits[-4:]}"


def mask_phones_in(text: str) -> str:
    """Mask every phone-number-looking run of digits in free text."""
    text = _WRITTEN.sub(_mask_written, text.translate(_FULL_WIDTH))
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
