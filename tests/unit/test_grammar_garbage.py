"""Text that is not the grammar: markup, undecodable bytes and control characters are
refused with the general correction, never read as a report; urgency is still heard."""

from __future__ import annotations

import pytest

from notifications.sms.commands import ParseError, UrgentCommand, WeeklyReportCommand
from notifications.sms.grammar import parse

UNREADABLE = ParseError("unrecognised", {"hint": None})


@pytest.mark.parametrize(
    "message",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)> 好",
        "好 <b>5</b> 血压150/95",
        "\ufffd好\ufffd",
        "好\ufffd",
        "\ufffd\ufffd5 血压150/95",
        "\x00好",
        "好\x07",
        "\x1b好\x1b",
        "\x1f好",
        "5 血压150/95\x00",
        "OK\x00",
        "\udcff好",
        "\ue000好",
        b"\xff\xfe\xe5\xa5\xbd",
        "%FF好%FE",
        "好%E5",
    ],
)
def test_garbage_gets_the_general_correction(message: str | bytes) -> None:
    parsed = parse(message)  # type: ignore[arg-type]
    assert parsed.command is None
    assert parsed.error == UNREADABLE


@pytest.mark.parametrize(
    "message",
    [
        "好",
        " 好\r\n",
        "好\t5 血压150/95",
        "好\n5 血压150/95\r\n12 血糖8.9",
        "好 5 头晕<3天",
        "好 5 头晕 &",
    ],
)
def test_ordinary_white_space_and_symbols_are_still_read(message: str) -> None:
    parsed = parse(message)
    assert isinstance(parsed.command, WeeklyReportCommand), parsed


@pytest.mark.parametrize("message", ["急 5 胸痛\ufffd", "<b>急 5 胸痛</b>", "\x00好 7 胸痛"])
def test_urgency_in_garbage_is_still_heard_but_a_report_in_it_is_not_recorded(
    message: str,
) -> None:
    parsed = parse(message)
    assert isinstance(parsed.command, UrgentCommand), parsed
    assert parsed.command.report is None
    assert parsed.command.report_error == UNREADABLE
