"""The outbox keys of escalation messages: built, parsed and matched in one module."""

from __future__ import annotations

import re

import pytest

from grids.escalation import keys

PHONE = "+8613900000002"


def like(pattern: str, text: str) -> bool:
    """SQL `LIKE` (no escape character) as a regular expression."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


ESCALATION_KEYS = [
    keys.step_key(17, 2, 3, PHONE, "voice"),
    keys.step_key(17, 0, 1, PHONE, "sms"),
    keys.red_flag_key(17, PHONE, "sms"),
    keys.duty_key(17, 2, PHONE),
    keys.ack_key(17, PHONE),
    keys.taken_key(17, PHONE),
]
OTHER_KEYS = [
    "urgent:17:doctor:4",
    "prompt:V1-HTN01:2026-W48",
    "escalate:17:0:1:+8613900000002:sms",
    "reminder:esc:17",
    "digest:D10:2026-11-30",
]


def test_a_step_key_names_escalation_step_round_recipient_and_channel() -> None:
    key = keys.step_key(17, 2, 3, PHONE, "voice")
    assert key == f"esc:17:2:3:{PHONE}:voice"
    assert keys.parse(key) == keys.EscalationKey(17, "step", PHONE, 2, 3, "voice")
    assert keys.escalation_of_key(key) == 17


@pytest.mark.parametrize("key", ESCALATION_KEYS)
def test_every_key_survives_its_round_trip(key: str) -> None:
    parsed = keys.parse(key)
    assert parsed is not None and parsed.escalation_id == 17 and parsed.recipient == PHONE
    assert str(parsed) == key


@pytest.mark.parametrize("key", [*OTHER_KEYS, "esc:x:0:1:+86:sms", "esc:17:ack", "esc:17:0:y:a:b"])
def test_other_keys_are_not_escalation_keys(key: str) -> None:
    assert keys.parse(key) is None
    assert keys.escalation_of_key(key) is None


def test_the_like_pattern_matches_only_escalation_keys() -> None:
    everything = keys.like_pattern()
    assert all(like(everything, key) for key in ESCALATION_KEYS)
    assert not any(like(everything, key) for key in OTHER_KEYS)


def test_like_patterns_pick_one_case_and_its_follow_ups() -> None:
    other_case = [key.replace("esc:17:", "esc:170:") for key in ESCALATION_KEYS]
    case = keys.like_pattern(17)
    assert all(like(case, key) for key in ESCALATION_KEYS)
    assert not any(like(case, key) for key in other_case + OTHER_KEYS)
    acks = keys.like_pattern(17, kind=keys.ACK)
    assert [key for key in ESCALATION_KEYS + other_case if like(acks, key)] == [
        keys.ack_key(17, PHONE)
    ]
    taken = keys.like_pattern(17, kind=keys.TAKEN)
    assert [key for key in ESCALATION_KEYS if like(taken, key)] == [keys.taken_key(17, PHONE)]
    with pytest.raises(ValueError):
        keys.like_pattern(17, kind="red")


def test_a_step_pattern_matches_that_step_and_round_of_any_case() -> None:
    pattern = keys.like_pattern(step=1, round_=1)
    assert like(pattern, keys.step_key(5, 1, 1, PHONE, "sms"))
    assert like(pattern, keys.step_key(51, 1, 1, PHONE, "voice"))
    assert not like(pattern, keys.step_key(5, 1, 11, PHONE, "sms"))
    assert not like(pattern, keys.step_key(5, 11, 1, PHONE, "sms"))
    assert not like(pattern, keys.step_key(5, 0, 1, PHONE, "sms"))
