"""`结 K7Q 转诊` and `复 K7Q 好转` read as the whole message; ordinary words that begin
with 结 or 复 stay what they were."""

from __future__ import annotations

import pytest

from notifications.sms import grammar
from notifications.sms.case_commands import CASE_CODE, CASE_WORD
from notifications.sms.commands import CloseCaseCommand, FollowupCommand, WeeklyReportCommand


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("结 K7Q 在家", "home"),
        ("结K7Q转诊", "referred"),
        ("结案 k7q 住院", "admitted"),
        ("结 K7Q 死亡", "died"),
        ("结 K7Q 误报。", "false"),
        ("DONE K7Q home", "home"),
        ("done k7q REFERRED", "referred"),
        ("ＤＯＮＥ Ｋ７Ｑ ｆａｌｓｅ", "false"),
    ],
)
def test_close_words(text: str, outcome: str) -> None:
    parsed = grammar.parse(text)
    assert parsed.command == CloseCaseCommand("K7Q", outcome)


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("复 K7Q 好转", "better"),
        ("复 K7Q 未好转", "worse"),
        ("随访 K7Q 住院", "admitted"),
        ("FOLLOWUP K7Q died", "died"),
        ("follow-up k7q worse", "worse"),
    ],
)
def test_followup_words(text: str, result: str) -> None:
    assert grammar.parse(text).command == FollowupCommand("K7Q", result)


@pytest.mark.parametrize("text", ["结 K7Q", "结 K7Q 好", "复 K7Q 转诊", "DONE K7Q maybe"])
def test_a_missing_or_wrong_word_is_corrected(text: str) -> None:
    parsed = grammar.parse(text)
    assert parsed.command is None and parsed.error is not None
    assert parsed.error.code == CASE_WORD
    assert "K7Q" in grammar.error_text(parsed.error, parsed.language)


@pytest.mark.parametrize("text", ["结果都好", "好 5 血压150/95", "复查 5 血压150/90"])
def test_ordinary_words_are_not_commands(text: str) -> None:
    assert isinstance(grammar.parse(text).command, WeeklyReportCommand)


@pytest.mark.parametrize(
    ("text", "example"),
    [
        ("结", "结 K7Q 转诊"),
        ("结 转诊", "结 K7Q 转诊"),
        ("DONE", "DONE K7Q referred"),
        ("done home", "DONE K7Q referred"),
        ("复 好转", "复 K7Q 好转"),
        ("随访", "复 K7Q 好转"),
        ("FOLLOWUP", "FOLLOWUP K7Q better"),
    ],
)
def test_the_command_word_without_a_code_gets_an_example_with_one(text: str, example: str) -> None:
    parsed = grammar.parse(text)
    assert parsed.command is None and parsed.error is not None
    assert parsed.error.code == CASE_CODE
    assert example in grammar.error_text(parsed.error, parsed.language)


@pytest.mark.parametrize("text", ["结婚了", "复诊"])
def test_words_that_only_begin_with_the_command_word_are_not_refused_as_one(text: str) -> None:
    parsed = grammar.parse(text)
    assert parsed.error is None or parsed.error.code != CASE_CODE
