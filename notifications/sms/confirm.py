"""A member's reply to an exchange reminder: `1` or `去` (and a few ways of saying so)."""

from __future__ import annotations

import unicodedata

CONFIRMATIONS = frozenset({"1", "去", "我去", "会去", "参加", "我参加", "GO"})
"""Never an opt-out or opt-in word of any carrier (`Y`/`YES` are Twilio's opt-in)."""
_TRIM = " .。!！,，~～"


def is_confirmation(text: str) -> bool:
    """Whether a member's SMS says they will come to the exchange."""
    normal = unicodedata.normalize("NFKC", text or "").strip(_TRIM).upper()
    return normal in CONFIRMATIONS
