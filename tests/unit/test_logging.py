from __future__ import annotations

import io
import logging
import unicodedata

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


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("电话13912345678请回电", "13912345678"),
        ("张三13912345678", "13912345678"),
        ("call 139-1234-5678 now", "139-1234-5678"),
        ("call 139 1234 5678 now", "139 1234 5678"),
        ("号码：008613912345678", "008613912345678"),
        ("号码：0086 139 1234 5678", "0086 139 1234 5678"),
        ("from +86 139-1234-5678", "+86 139-1234-5678"),
        ("全角１３９１２３４５６７８", "１３９１２３４５６７８"),
        ("卫生院0354-7654321值班", "0354-7654321"),
        ("duty +86 354 7654321", "+86 354 7654321"),
    ],
)
def test_every_form_roster_import_accepts_is_masked(text: str, number: str) -> None:
    masked = mask_phones_in(text)
    assert number not in masked
    assert "****" in masked
    middle = unicodedata.normalize("NFKC", number).replace(" ", "").replace("-", "")[-8:-4]
    assert middle not in masked


def test_masking_leaves_times_dates_and_ids_alone() -> None:
    line = "2026-11-26 02:00:00,000 INFO outbox 17 sent SMaa0000000000000000000000000000bb 1.5 s"
    assert mask_phones_in(line) == line


def test_the_forwarded_urgent_text_is_masked_on_the_console() -> None:
    from notifications.providers.base import OutgoingMessage
    from notifications.providers.console import ConsoleProvider

    stream = io.StringIO()
    ConsoleProvider(stream=stream).send(
        OutgoingMessage(
            to="+8613800001111",
            body="【急】系统出错，转发原文：+8613912345678发来：急 5 胸痛 电话139-2222-3333",
            template="sms.urgent.fallback",
            params={},
            language="zh_CN",
        )
    )
    printed = stream.getvalue()
    assert "13912345678" not in printed and "2222" not in printed
