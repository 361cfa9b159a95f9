"""The outbox idempotency keys of escalation messages: the one place their format lives.

A key names what a message is for, so enqueueing it twice is a no-op:

- `esc:<escalation>:<step>:<round>:<recipient>:<channel>`: a ladder step's message or
  call (`esc:17:0:1:+8613912345678:sms`); `<step>` is the step's index, or `red` for
  the county hospital told at once of a red flag, or `duty` for the county bureau's
  duty phone told that the top was reached;
- `esc:<escalation>:ack:<recipient>`: the reporter told that the case was acknowledged;
- `esc:<escalation>:taken:<recipient>`: someone told earlier that another took the case;
- `esc:<escalation>:remind:<n>`: the `n`th reminder to close an acknowledged case;
- `esc:<escalation>:followup:<n>`: the doctor told a referral follow-up is due (`n`
  weeks after its day).

Phone numbers are E.164 and channels are words, so no part holds a `:`.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "esc"
SEPARATOR = ":"
RED = "red"
DUTY = "duty"
ACK = "ack"
TAKEN = "taken"
REMIND = "remind"
FOLLOWUP = "followup"
FOLLOW_UPS = frozenset({ACK, TAKEN})
"""The kinds of key sent after an acknowledgement (not part of the climb)."""
AFTERWARDS = frozenset({REMIND, FOLLOWUP})
"""The kinds of key sent about an acknowledged or closed case (numbered, not addressed)."""


@dataclass(frozen=True)
class EscalationKey:
    """A parsed key: `kind` is `step`, `red`, `duty`, `ack` or `taken`."""

    escalation_id: int
    kind: str
    recipient: str
    step: int | None = None
    """The step's index (kind `step` only)."""
    round: int | None = None
    channel: str | None = None
    """`sms` or `voice`; None for `ack` and `taken` (always SMS)."""

    def __str__(self) -> str:
        if self.kind in FOLLOW_UPS | AFTERWARDS:
            return _join(self.escalation_id, self.kind, self.recipient)
        step = self.step if self.kind == "step" else self.kind
        return _join(self.escalation_id, step, self.round, self.recipient, self.channel)


def _join(*parts: object) -> str:
    return SEPARATOR.join(str(part) for part in (PREFIX, *parts))


def step_key(escalation_id: int, step: int, round_: int, phone: str, channel: str) -> str:
    """The key of step `step`'s message (or call) to `phone` in round `round_`."""
    return _join(escalation_id, step, round_, phone, channel)


def red_flag_key(escalation_id: int, phone: str, channel: str) -> str:
    """The key of the county hospital's message told at once of a red flag."""
    return _join(escalation_id, RED, 1, phone, channel)


def duty_key(escalation_id: int, round_: int, phone: str) -> str:
    """The key of the county duty phone's SMS when round `round_` reached the top."""
    return _join(escalation_id, DUTY, round_, phone, "sms")


def ack_key(escalation_id: int, phone: str) -> str:
    """The key of the reporter's SMS saying the case was acknowledged."""
    return _join(escalation_id, ACK, phone)


def taken_key(escalation_id: int, phone: str) -> str:
    """The key of the SMS telling someone notified earlier that the case was taken."""
    return _join(escalation_id, TAKEN, phone)


def reminder_key(escalation_id: int, number: int) -> str:
    """The key of the `number`th reminder to close an acknowledged case."""
    return _join(escalation_id, REMIND, number)


def followup_key(escalation_id: int, number: int) -> str:
    """The key of the doctor's SMS that a referral follow-up is due (`number` weeks late)."""
    return _join(escalation_id, FOLLOWUP, number)


def parse(key: str) -> EscalationKey | None:
    """The parts of an escalation key; None for any other key."""
    parts = key.split(SEPARATOR)
    if len(parts) < 4 or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    escalation_id = int(parts[1])
    if len(parts) == 4 and parts[2] in FOLLOW_UPS | AFTERWARDS:
        return EscalationKey(escalation_id, parts[2], parts[3])
    if len(parts) != 6 or not parts[3].isdigit():
        return None
    step, round_, recipient, channel = parts[2], int(parts[3]), parts[4], parts[5]
    if step.isdigit():
        return EscalationKey(escalation_id, "step", recipient, int(step), round_, channel)
    if step in (RED, DUTY):
        return EscalationKey(escalation_id, step, recipient, None, round_, channel)
    return None


def escalation_of_key(key: str) -> int | None:
    """The escalation id of an escalation key, else None."""
    parsed = parse(key)
    return parsed.escalation_id if parsed is not None else None


def like_pattern(
    escalation_id: int | None = None,
    *,
    kind: str | None = None,
    step: int | None = None,
    round_: int | None = None,
) -> str:
    """A SQL `LIKE` pattern for escalation keys: every one (no argument), one case's,
    one case's `ack` or `taken` keys (`kind`), or a step's messages (`step`, `round_`).
    Every part but the prefix is digits or a word, so `_` and `%` never need escaping."""
    case = "%" if escalation_id is None else str(escalation_id)
    if kind is not None:
        if kind not in FOLLOW_UPS:
            raise ValueError(f"like_pattern: kind must be one of {sorted(FOLLOW_UPS)}")
        return _join(case, kind, "%")
    if step is None and round_ is None:
        return _join(case, "%")
    return _join(
        case,
        "%" if step is None else step,
        "%" if round_ is None else round_,
        "%",
    )
