"""Whatever a person types, the grammar answers with a command or a one-segment correction."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.sms import errors, grammar
from notifications.sms import keywords as kw
from notifications.sms.commands import OptInCommand, OptOutCommand, Parsed
from notifications.sms.grammar import error_text, parse
from notifications.sms.segments import fits_one_segment, segment_count

LANGUAGES = ("zh_CN", "en")
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SAMPLES = (
    "150/95",
    "165/100",
    "300/20",
    "8.9",
    "12.5",
    "0.5",
    "19:00",
    "7:30",
    "K7Q",
    "K1Q",
    "15O/95",
    "１５０／９５",
    "胸痛",
    "chest pain",
    "头晕",
    "老李",
    "mmHg",
    "mmol/L",
    "😀",
    "#",
    "号",
    "第",
)
_SEPARATORS = (" ", "  ", ",", "，", "、", ";", "；", "。", ":", "：", "\n", "", "-", "/", "!")
VOCABULARY = (
    sorted(kw.CHINESE)
    + sorted(" ".join(phrase) for phrase in kw.ENGLISH)
    + sorted(kw.OPT_OUT_ENGLISH | kw.OPT_OUT_CHINESE | kw.OPT_OUT_LETTERS)
    + sorted(kw.OPT_IN_ENGLISH | kw.OPT_IN_CHINESE)
    + sorted(kw.RED_FLAGS_CHINESE)
    + list(_SAMPLES)
)

grammar_like = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(VOCABULARY),
            st.integers(min_value=0, max_value=400).map(str),
            st.text(max_size=3),
        ),
        st.sampled_from(_SEPARATORS),
    ),
    max_size=60,
).map(lambda parts: "".join(word + separator for word, separator in parts)[:500])

any_text = st.one_of(st.text(max_size=500), grammar_like)


def assert_well_formed(parsed: Parsed) -> None:
    assert isinstance(parsed, Parsed)
    assert (parsed.command is None) != (parsed.error is None)
    assert parsed.language in (None, "zh_CN", "en")
    if parsed.error is not None:
        assert parsed.error.code in errors.ERROR_CODES
        for language in LANGUAGES:
            reply = error_text(parsed.error, language)
            assert reply
            assert segment_count(reply) <= 2
            assert fits_one_segment(reply), (parsed.error, language, reply)


@FUZZ
@given(any_text)
def test_any_text_gets_a_command_or_a_one_segment_correction(text: str) -> None:
    # `_parse` is what `parse` guards: it must not need the guard.
    assert_well_formed(grammar._parse(text))
    assert_well_formed(parse(text))


@FUZZ
@given(grammar_like)
def test_full_width_text_means_what_its_ascii_means(text: str) -> None:
    full_width = "".join(
        chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else "\u3000" if char == " " else char
        for char in text
    )
    assert parse(full_width) == parse(text)


@FUZZ
@given(
    st.sampled_from(sorted(kw.OPT_OUT_ENGLISH | kw.OPT_OUT_LETTERS)),
    st.sampled_from(["", " ", "  ", "\n"]),
    st.sampled_from(["", ".", "!", "。", "！", " .", "?"]),
    st.booleans(),
)
def test_an_opt_out_word_alone_opts_out(word: str, space: str, mark: str, lower: bool) -> None:
    typed = word.lower() if lower else word
    assert parse(f"{space}{typed}{mark}{space}").command == OptOutCommand(word)


@FUZZ
@given(
    st.sampled_from(
        sorted(kw.OPT_OUT_ENGLISH | kw.OPT_OUT_CHINESE | kw.OPT_OUT_LETTERS | kw.OPT_IN_ENGLISH)
    ),
    st.sampled_from(["5", "please", "好", "7 住院", "OK", "谢谢"]),
    st.booleans(),
)
def test_an_opt_out_or_in_word_with_other_words_is_neither(
    word: str, other: str, before: bool
) -> None:
    message = f"{other} {word}" if before else f"{word} {other}"
    assert not isinstance(parse(message).command, OptOutCommand | OptInCommand)


@pytest.mark.parametrize("word", sorted(kw.OPT_IN_ENGLISH | kw.OPT_IN_CHINESE))
def test_an_opt_in_word_alone_opts_in(word: str) -> None:
    assert parse(f" {word.lower()}! ").command == OptInCommand(word)
