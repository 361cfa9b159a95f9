"""How many SMS segments a text costs.

A text that the GSM 03.38 default alphabet can carry is sent as GSM-7: 160
septets in one segment, 153 per segment when it is split (the rest carries the
concatenation header). Characters of the extension table (`{ } [ ] ~ ^ | € \\`
and form feed) are an escape plus a character: two septets, and a segment
boundary never falls between the two. Anything else makes the whole text UCS-2:
70 UTF-16 code units in one segment, 67 per segment when split; a character
outside the Basic Multilingual Plane (most emoji) is two code units and is not
split across segments either.

The alphabet comes from the `gsm0338` codec, whose encoder also writes an
extension character as two bytes (escape, code), one per septet.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from gsm0338.charset import BASIC_CHARACTER_SET, BASIC_CHARACTER_SET_EXTENSION

GSM_7: Literal["GSM-7"] = "GSM-7"
UCS_2: Literal["UCS-2"] = "UCS-2"

GSM_SINGLE, GSM_PART = 160, 153
UCS_SINGLE, UCS_PART = 70, 67

_ESCAPE = 0x1B


def _characters(table: dict[int, str]) -> frozenset[str]:
    return frozenset(unicodedata.lookup(name) for code, name in table.items() if code != _ESCAPE)


GSM_BASIC = _characters(BASIC_CHARACTER_SET)
GSM_EXTENSION = _characters(BASIC_CHARACTER_SET_EXTENSION) - GSM_BASIC


def encoding(text: str) -> Literal["GSM-7", "UCS-2"]:
    """`GSM-7` when every character is in the GSM 03.38 alphabet, else `UCS-2`."""
    return GSM_7 if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text) else UCS_2


def _weights(text: str) -> tuple[list[int], int, int]:
    """Cost of each character (septets or UTF-16 units), and the single/part limits."""
    if encoding(text) == GSM_7:
        return [2 if char in GSM_EXTENSION else 1 for char in text], GSM_SINGLE, GSM_PART
    return [2 if ord(char) > 0xFFFF else 1 for char in text], UCS_SINGLE, UCS_PART


def length(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    return sum(_weights(text)[0])


def segment_count(text: str) -> int:
    """Segments needed to send `text` (an empty text is still one message)."""
    weights, single, part = _weights(text)
    if sum(weights) <= single:
        return 1
    count, used = 1, 0
    for weight in weights:
        if used + weight > part:  # an escape pair or a surrogate pair is never split
            count, used = count + 1, 0
        used += weight
    return count


def fits_one_segment(text: str) -> bool:
    return segment_count(text) == 1
