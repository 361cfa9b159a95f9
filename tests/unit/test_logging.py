from __future__ import annotations

import io
import logging

import pytest

from config.logging import PhoneMaskingFilter, configure_logging, mask_phone, mask_phones_in


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+8613912345678", "+86139****5678"),
        ("13912345678", "139****5678"),
        ("+14155552671", "+14155****2671"),
        ("12", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_numbers_inside_log_lines_are_masked() -> None:
    line = "sent to +8613912345678 and 13800001111, grid 12, seat 5"
    masked = mask_phones_in(line)
    assert "+8613912345678" not in masked
    assert "13800001111" not in masked
    assert "+86139****5678" in masked
    assert "138****1111" in masked
    assert "grid 12, seat 5" in masked


def test_log_filter_masks_formatted_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "from %s", ("+8613912345678",), None)
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "from +86139****5678"


def test_the_configured_handler_masks_numbers_in_tracebacks_too() -> None:
    configure_logging("INFO")
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_huzhu", False)]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        try:
            raise RuntimeError("The 'To' number +8613912345678 is not a valid phone number")
        except RuntimeError:
            logging.getLogger("huzhu.test").exception("sending to %s failed", "13800001111")
    finally:
        handler.setStream(previous)
    written = stream.getvalue()
    assert "sending to 138****1111 failed" in written
    assert "RuntimeError: The 'To' number +86139****5678 is not a valid" in written
    assert "13912345678" not in written
    assert "13800001111" not in written
