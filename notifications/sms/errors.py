"""The limits of what the grammar reads and the error codes it answers with (catalogue text
`sms.error.<code>`); docs/sms-grammar.md.
"""

from __future__ import annotations

from typing import Any

from grids.core.limits import ACK_ALPHABET, GRID_CAPACITY, SEAT_RANGE, URGENT_FORWARD_CHARS
from notifications.sms.commands import ParseError

MAX_INPUT_CHARS = 500
MAX_SEAT = SEAT_RANGE[1]
MAX_HEADCOUNT = GRID_CAPACITY
ACK_CHARS = frozenset(ACK_ALPHABET)
NOTE_LIMIT = 200
URGENT_TEXT_LIMIT = 500
URGENT_EXCERPT_CHARS = URGENT_FORWARD_CHARS - 2
"""Characters of a long message kept around its red flag (with an ellipsis at each
end), so that the doctor's alert, which shows `ALERT_TEXT_CHARS`, shows the flag."""
MAX_WRITTEN_SEAT = 99
"""A number up to this right after `急` is the seat meant, even one the grid cannot have
(`急 25 胸痛`): the case is then reported as about an unknown member, never as the
reporter's own."""
MAX_URGENT_SCAN_CHARS = 1600
"""A message too long to read is still searched this far (Twilio's longest body) for
`急` and red flags."""

ZH, EN = "zh_CN", "en"


# Error codes (catalogue text `sms.error.<code>`).
EMPTY = "empty"
TOO_LONG = "too_long"
UNRECOGNISED = "unrecognised"
MISSING_SEAT = "missing_seat"
SEAT_OUT_OF_RANGE = "seat_out_of_range"
ITEM_INCOMPLETE = "item_incomplete"
BP_OUT_OF_RANGE = "bp_out_of_range"
BP_UNREADABLE = "bp_unreadable"
GLUCOSE_OUT_OF_RANGE = "glucose_out_of_range"
GLUCOSE_UNREADABLE = "glucose_unreadable"
ATTENDANCE_MISSING = "attendance_missing"
HEADCOUNT_OUT_OF_RANGE = "headcount_out_of_range"
ACK_CODE_INVALID = "ack_code_invalid"
MOVE_INCOMPLETE = "move_incomplete"
MOVE_TIME_INVALID = "move_time_invalid"
MOVE_NOT_THIS_WEEK = "move_not_this_week"
NUMBER_UNREADABLE = "number_unreadable"

ERROR_CODES = (
    EMPTY,
    TOO_LONG,
    UNRECOGNISED,
    MISSING_SEAT,
    SEAT_OUT_OF_RANGE,
    ITEM_INCOMPLETE,
    BP_OUT_OF_RANGE,
    BP_UNREADABLE,
    GLUCOSE_OUT_OF_RANGE,
    GLUCOSE_UNREADABLE,
    ATTENDANCE_MISSING,
    HEADCOUNT_OUT_OF_RANGE,
    ACK_CODE_INVALID,
    MOVE_INCOMPLETE,
    MOVE_TIME_INVALID,
    MOVE_NOT_THIS_WEEK,
    NUMBER_UNREADABLE,
)

# `unrecognised` carries a `hint`: which example the sender most likely needs.
HINTS = ("report", "attendance", "move", "numbers", "optout")


class Refused(Exception):
    """Internal: stops parsing with a `ParseError`."""

    def __init__(self, error_code: str, /, **params: Any) -> None:
        super().__init__(error_code)
        self.error = ParseError(error_code, params)
