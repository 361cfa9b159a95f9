"""Real-looking coordinator and doctor messages, and exactly what each one means."""

from __future__ import annotations

import pytest

from notifications.sms.commands import (
    OptOutCommand,
    Parsed,
    ParseError,
    UrgentCommand,
)
from notifications.sms.errors import ERROR_CODES
from notifications.sms.grammar import parse, red_flag
from tests.support.grammar_cases import (
    CASES,
    ZH,
    err,
)


@pytest.mark.parametrize(("message", "expected"), CASES, ids=[repr(case[0])[:40] for case in CASES])
def test_message_means(message: str, expected: Parsed) -> None:
    assert parse(message) == expected


def test_the_table_covers_enough_messages() -> None:
    assert len(CASES) >= 80
    assert len({message for message, _ in CASES}) == len(CASES)


def test_an_urgent_message_is_never_refused_for_its_length() -> None:
    parsed = parse("急 5 胸痛 " + "很痛 " * 300)
    assert parsed.error is None
    assert isinstance(parsed.command, UrgentCommand)
    assert parsed.command == UrgentCommand(
        seat=5,
        text=parsed.command.text,
        red_flag=True,
        implicit=False,
        report_error=ParseError("too_long", {"limit": 500}),
    )
    assert parsed.command.text.startswith("胸痛 很痛")


def test_a_long_message_with_a_red_flag_past_the_read_limit_is_still_urgent() -> None:
    message = "好 " + "5 头晕 " * 100 + "7 胸痛"
    assert len(message) > 500
    parsed = parse(message)
    assert parsed.error is None and parsed.language == ZH
    command = parsed.command
    assert isinstance(command, UrgentCommand)
    assert (command.seat, command.red_flag, command.report) == (7, True, None)
    assert command.text == "胸痛"
    assert command.report_error == ParseError("too_long", {"limit": 500})


def test_a_long_message_without_urgency_is_refused_as_too_long() -> None:
    assert parse("好 " + "5 头晕 " * 300) == err("too_long", ZH, limit=500)


def test_a_message_merely_containing_an_opt_out_word_is_no_opt_out() -> None:
    for message in ("5 t", "N 5 住院", "好 STOP", "请退订", "TD 谢谢", "R U OK"):
        assert not isinstance(parse(message).command, OptOutCommand), message


def test_no_command_is_a_single_letter() -> None:
    for letter in "ABCDEFGHIJKLMOPQSUVWXYZ":
        parsed = parse(letter)
        assert parsed.command is None, letter


def test_garbage_is_refused_quickly_and_without_an_exception() -> None:
    for garbage in ("\x00\x01\x02" * 400, "\ud800abc", "💊" * 1000, "﷽" * 499, b"\xff\xfe"):
        parsed = parse(garbage)  # type: ignore[arg-type]
        assert (parsed.command is None) != (parsed.error is None)


def test_every_error_code_has_an_example_in_the_table() -> None:
    assert {parsed.error.code for _, parsed in CASES if parsed.error} == set(ERROR_CODES)


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("5号胸痛", "胸痛"),
        ("5号止不住吐血", "吐血"),
        ("他没气了", "没气了"),
        ("没有心跳了", "没有心跳"),
        ("5 is not breathing", "not breathing"),
        ("he could not breathe", "could not breathe"),
        ("5号摔倒了站不起来", "站不起来"),
        ("无胸痛", None),
        ("没胸闷", None),
        ("不是胸痛，是胃疼", None),
        ("没有呼吸困难", None),
        ("no chest pain", None),
        ("denies any chest pain", None),
        ("无胸痛，但喘不上气", "喘不上气"),
    ],
)
def test_red_flags_are_found_unless_denied(text: str, flag: str | None) -> None:
    assert red_flag(text) == flag
