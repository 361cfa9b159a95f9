"""Limits of the model, each defined once: grid and doctor capacity, plausible
readings, acknowledgement codes, phone numbers, forwarded text."""

from __future__ import annotations

import re
from decimal import Decimal

GRID_CAPACITY = 20
"""Members of one grid at most (Jiexiu's grids of 20)."""
DOCTOR_GRID_CAPACITY = 15
"""Grids one village doctor supervises at most."""
SEAT_RANGE = (1, GRID_CAPACITY)

SYSTOLIC_RANGE = (60, 300)
DIASTOLIC_RANGE = (30, 200)
GLUCOSE_RANGE = (Decimal("1.0"), Decimal("40.0"))

ACK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Characters of an acknowledgement code: no 0/O or 1/I to confuse."""
ACK_CODE_LENGTH = 3

E164 = re.compile(r"\+[1-9]\d{6,14}")
"""A stored phone number: E.164, as `grids.core.phones.normalise_phone` writes it."""

URGENT_FORWARD_CHARS = 40
"""Characters of the reporter's own words forwarded to a doctor; keeps the SMS within two
segments."""


def is_e164(phone: str | None) -> bool:
    return bool(phone) and E164.fullmatch(phone or "") is not None
