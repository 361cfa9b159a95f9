"""Corrections: every parse error says what was wrong, shows an example, fits one SMS."""

from __future__ import annotations

import pytest

from i18n import catalogue
from notifications.sms.commands import ParseError
from notifications.sms.errors import ERROR_CODES, HINTS, UNRECOGNISED
from notifications.sms.grammar import error_text, parse
from notifications.sms.segments import GSM_7, encoding, fits_one_segment, length

LANGUAGES = ("zh_CN", "en")

# The longest a parameter can be shown (`grammar._VALUE_LIMIT` code units), in the
# costliest characters: digits, GSM-7 extension characters (two septets each),
# Chinese, emoji (two UTF-16 units each), and a 20-digit number cut short.
WORST_VALUES = ("9" * 30, "{" * 30, "血" * 30, "😀" * 30, 10**20)


def every_error() -> list[ParseError]:
    errors = []
    for code in ERROR_CODES:
        for hint in (*HINTS, None) if code == UNRECOGNISED else (None,):
            for value in WORST_VALUES:
                params = {"seat": value, "value": value, "code": value, "limit": 500, "hint": hint}
                errors.append(ParseError(code, params))
                errors.append(ParseError(code, params | {"context": "attendance"}))
    return errors


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_error_has_its_own_text(code: str, language: str) -> None:
    assert catalogue(language).has(f"sms.error.{code}")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("hint", HINTS)
def test_every_hint_has_its_own_example(hint: str, language: str) -> None:
    assert catalogue(language).has(f"sms.error.unrecognised.{hint}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_correction_fits_one_segment_at_its_longest_parameters(language: str) -> None:
    too_long = [
        (error, text)
        for error in every_error()
        if not fits_one_segment(text := error_text(error, language))
    ]
    assert too_long == []


@pytest.mark.parametrize("code", ERROR_CODES)
def test_english_corrections_with_plain_parameters_stay_gsm7(code: str) -> None:
    params = {"seat": 20, "value": "165/100", "code": "K7Q", "limit": 500, "hint": None}
    text = error_text(ParseError(code, params), "en")
    assert encoding(text) == GSM_7
    assert length(text) <= 160


@pytest.mark.parametrize(
    ("message", "language", "reply"),
    [
        ("5 血压300/20", "zh_CN", "5号血压300/20不合理，请核对后重发。例：5 血压150/95"),
        (
            "5 BP300/20",
            "en",
            "Seat 5: BP 300/20 is not plausible. Please check and resend, e.g. 5 BP150/95",
        ),
        ("21 住院", "zh_CN", "没有21号，座号是1-20。例：5 血压150/95"),
        ("到 1 2 25", "zh_CN", "没有25号，座号是1-20。例：到 1 2 3 或 到 15"),
        ("ATT 1-25", "en", "There is no seat 25: seats are 1-20. Example: ATT 1 2 3 or ATT 15"),
        ("好 血糖8.9", "zh_CN", "“血糖8.9”前面缺座号，请把座号写在前面。例：5 血压150/95"),
        ("OK BG8.9", "en", 'Put the seat number before "BG8.9", e.g. 5 BP150/95'),
        ("12 血糖45", "zh_CN", "12号血糖45不合理（应为1-40），请核对后重发。例：5 血糖8.9"),
        ("好 5", "zh_CN", "5号后面缺内容。例：5 血压150/95 或 7 住院"),
        ("到 35", "zh_CN", "到会35人不合理，一个网格最多20人。例：到 15"),
        ("收到 K0Q", "zh_CN", "编号K0Q不对，编号是短信里的3位字母数字。例：收到 K7Q"),
        ("改 周四", "zh_CN", "请写日子和时间。例：改 周四 19:00 或 改 明天 晚上7点半"),
        ("5 血压15O/95", "zh_CN", "“15O/95”里混有字母，数字请只用0-9。例：5 血压150/95"),
        (
            "stop please",
            "en",
            "To stop all messages, send STOP on its own. Otherwise please ignore this message.",
        ),
    ],
)
def test_a_correction_names_what_was_wrong_and_shows_an_example(
    message: str, language: str, reply: str
) -> None:
    parsed = parse(message)
    assert parsed.error is not None
    assert error_text(parsed.error, language) == reply


def test_a_long_value_is_cut_short_not_the_example() -> None:
    error = ParseError("missing_seat", {"value": "老李这个星期头有点晕还有点咳嗽"})
    assert (
        error_text(error, "zh_CN")
        == "“老李这个星期头有点…”前面缺座号，请把座号写在前面。例：5 血压150/95"
    )


def test_an_english_reply_may_quote_chinese_within_one_ucs2_segment() -> None:
    reply = error_text(parse("OK 住院").error, "en")  # type: ignore[arg-type]
    assert reply == 'Put the seat number before "住院", e.g. 5 BP150/95'
    assert fits_one_segment(reply)


def test_an_english_reply_leaves_out_a_quote_that_would_need_a_second_segment() -> None:
    parsed = parse("MOVE THU 七点70")
    assert parsed.error == ParseError("move_time_invalid", {"value": "七点70"})
    reply = error_text(parsed.error, "en")
    assert reply == "That time is not valid. Example: MOVE THU 19:00 or MOVE TOMORROW 7:30PM"
    assert encoding(reply) == GSM_7


def test_an_unknown_code_falls_back_to_the_general_correction() -> None:
    assert error_text(ParseError("no_such_code"), "zh_CN") == error_text(
        ParseError("unrecognised", {"hint": None}), "zh_CN"
    )


def test_a_missing_language_means_chinese() -> None:
    assert error_text(ParseError("empty"), None) == error_text(ParseError("empty"), "zh_CN")
