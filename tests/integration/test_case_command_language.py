"""A Chinese doctor who answers a case in the grammar's English keywords (`ACK SZ8`,
`DONE SZ8 home`) is answered in Chinese: the case code is not an English word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from grids.escalation import urgent
from tests.support.escalation import latest_case, text_at, two_clinic_county

# Thursday 10 December 2026, 10:00 in Shanghai.
T0 = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
# Letters next to each other: read as a Latin word, the code alone made the text English.
CODE = "SZ8"


@pytest.fixture
def case(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(urgent, "new_ack_code", lambda session: CODE)
    county = two_clinic_county(app, 8, 4)
    text_at(app, county["grid"].coordinator.phone, "急 5 头晕", T0)
    assert latest_case(app).code == CODE
    return county


@pytest.mark.parametrize(
    ("body", "chinese"),
    [(f"ACK {CODE}", "已确认"), (f"ack {CODE.lower()}", "已确认")],
)
def test_an_acknowledgement_in_keywords_is_answered_in_chinese(app, case, body, chinese) -> None:
    reply = text_at(app, case["grid"].doctor.phone, body, T0 + timedelta(minutes=3))
    assert reply is not None and CODE in reply
    assert chinese in reply, reply
    assert "acknowledged" not in reply


def test_closing_and_following_up_in_keywords_are_answered_in_chinese(app, case) -> None:
    doctor = case["grid"].doctor.phone
    closed = text_at(app, doctor, f"DONE {CODE} referred", T0 + timedelta(minutes=5))
    assert closed is not None and CODE in closed and "转诊" in closed, closed
    followed = text_at(app, doctor, f"FOLLOWUP {CODE} better", T0 + timedelta(days=14))
    assert followed is not None and CODE in followed and "随访" in followed, followed


@pytest.mark.parametrize("body", ["结", "DONE", "结 转诊"])
def test_closing_without_the_code_is_answered_with_an_example(app, case, body) -> None:
    reply = text_at(app, case["grid"].doctor.phone, body, T0 + timedelta(minutes=5))
    assert reply == "请写病例编号和结果，例如：结 K7Q 转诊（在家/转诊/住院/死亡/误报）"
    assert latest_case(app).state == "open"
