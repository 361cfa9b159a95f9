"""A member's reply to an exchange reminder."""

from __future__ import annotations

import pytest

from notifications.sms import keywords as kw
from notifications.sms.confirm import CONFIRMATIONS, is_confirmation


@pytest.mark.parametrize("text", ["1", "去", " 去。", "１", "我去!", "参加", "go", "GO"])
def test_confirmations(text: str) -> None:
    assert is_confirmation(text)


@pytest.mark.parametrize("text", ["", "2", "不去", "T", "N", "STOP", "退订", "好", "到 1"])
def test_not_confirmations(text: str) -> None:
    assert not is_confirmation(text)


def test_no_confirmation_is_an_opt_out_or_opt_in_word() -> None:
    words = kw.OPT_OUT_ENGLISH | kw.OPT_OUT_LETTERS | kw.OPT_OUT_CHINESE | kw.OPT_IN_ENGLISH
    words |= kw.OPT_IN_CHINESE
    assert not {word.upper() for word in words} & CONFIRMATIONS
