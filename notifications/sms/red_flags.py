"""Red-flag symptoms named, and not denied, in a message (docs/sms-grammar.md)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from notifications.sms import keywords as kw
from notifications.sms.errors import URGENT_EXCERPT_CHARS
from notifications.sms.keywords import Kind
from notifications.sms.tokens import Lex, Token

# --- red flags ------------------------------------------------------------------------------

_RED_FLAG = re.compile(
    "|".join(
        [re.escape(word) for word in sorted(kw.RED_FLAGS_CHINESE, key=lambda w: (-len(w), w))]
        + [rf"\b{pattern}\b" for pattern in kw.RED_FLAGS_ENGLISH]
    ),
    re.IGNORECASE,
)
_DENIED_ENGLISH = re.compile(
    r"\b(?:" + "|".join(re.escape(word) for word in kw.NEGATIONS_ENGLISH) + r")(?:\s+any)?$",
    re.IGNORECASE,
)


def _denied(text: str, start: int) -> bool:
    """Whether the red flag at `start` follows a negation (`无胸痛`, `no chest pain`)."""
    before = text[max(0, start - 16) : start].rstrip()
    return before.endswith(kw.NEGATIONS_CHINESE) or _DENIED_ENGLISH.search(before) is not None


def red_flag_match(text: str) -> re.Match[str] | None:
    """The first red-flag symptom named, and not denied, in (normalised) `text`."""
    for match in _RED_FLAG.finditer(text):
        if not _denied(text, match.start()):
            return match
    return None


def red_flag(text: str) -> str | None:
    """The first red-flag symptom named, and not denied, in (normalised) `text`."""
    match = red_flag_match(text)
    return match.group() if match else None


def excerpt(words: str) -> str:
    """`words`, or the part of them around the red flag when they are too long for the
    doctor's alert to show it (the whole message stays stored with the inbound SMS)."""
    if len(words) <= URGENT_EXCERPT_CHARS:
        return words
    match = red_flag_match(words)
    start = 0
    if match is not None:
        start = max(0, min(match.start() - 8, len(words) - URGENT_EXCERPT_CHARS))
    end = start + URGENT_EXCERPT_CHARS
    piece = words[start:end].strip()
    return ("…" if start else "") + piece + ("…" if end < len(words) else "")


def sounds_like_symptom(tokens: Sequence[Token]) -> bool:
    for token in tokens:
        if token.lex is not Lex.WORD or token.word.kind is not Kind.TEXT:
            continue
        if token.script == "han" and any(hint in token.text for hint in kw.SYMPTOM_HINTS_CHINESE):
            return True
        if token.script == "latin" and token.text.upper() in kw.SYMPTOM_HINTS_ENGLISH:
            return True
    return False
