from __future__ import annotations

import logging

import pytest

from config.logging import PhoneMaskingFilter, mask_phone, mask_phones_in


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
