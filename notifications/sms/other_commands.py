"""Reading attendance, acknowledgements and exchange moves (docs/sms-grammar.md,
"Other commands").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

from grids.core.limits import ACK_CODE_LENGTH
from notifications.sms.commands import AttendanceCommand, MoveExchangeCommand
from notifications.sms.errors import (
    ACK_CHARS,
    ACK_CODE_INVALID,
    ATTENDANCE_MISSING,
    HEADCOUNT_OUT_OF_RANGE,
    MAX_HEADCOUNT,
    MAX_SEAT,
    MOVE_INCOMPLETE,
    MOVE_NOT_THIS_WEEK,
    MOVE_TIME_INVALID,
    SEAT_OUT_OF_RANGE,
    Refused,
)
from notifications.sms.keywords import Kind
from notifications.sms.tokens import Lex, Seat, Token, seat_at, span_text

# --- the other commands -------------------------------------------------------------------


def read_attendance(tokens: Sequence[Token]) -> AttendanceCommand:
    """`到 15`, `到15人` (a headcount) or `到 1 2 3`, `到 1-12 15`, `到 5号` (seats)."""
    numbers: list[Seat] = []
    ranges: list[tuple[int, int]] = []
    people: int | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.lex is Lex.PAIR and token.value[1] == "-" and "." not in token.text:
            left, _, right = token.value
            ranges.append((int(left), int(right)))
            index += 1
            continue
        seat = seat_at(tokens, index)
        if seat is None and token.kind is Kind.NUMERAL:
            seat = Seat(token.word.value, index + 1, marked=False)  # `到十五人`
        if seat is None:
            index += 1
            continue
        if not seat.marked and seat.end < len(tokens) and tokens[seat.end].kind is Kind.PEOPLE:
            people = seat.number
            index = seat.end + 1
            continue
        numbers.append(seat)
        index = seat.end
    if people is None and len(numbers) == 1 and not ranges and not numbers[0].marked:
        people, numbers = numbers[0].number, []
    if people is not None and not 0 <= people <= MAX_HEADCOUNT:
        raise Refused(HEADCOUNT_OUT_OF_RANGE, value=people)
    # The correction's example is then one of attendance (`sms.error.<code>.attendance`).
    for number in [seat.number for seat in numbers] + [n for pair in ranges for n in pair]:
        if not 1 <= number <= MAX_SEAT:
            raise Refused(SEAT_OUT_OF_RANGE, seat=number, context="attendance")
    seats = [seat.number for seat in numbers]
    for low, high in ranges:
        seats.extend(range(min(low, high), max(low, high) + 1))
    present = tuple(sorted(set(seats)))
    if people is None and not present:
        raise Refused(ATTENDANCE_MISSING)
    return AttendanceCommand(headcount=len(present) if people is None else people, seats=present)


def read_ack_code(text: str, tokens: Sequence[Token]) -> str | None:
    """The acknowledgement code among `tokens`: touching letters and digits, glued."""
    runs: list[list[Token]] = []
    for token in tokens:
        if token.script not in ("latin", "digit") or token.lex is Lex.PAIR:
            runs.append([])
            continue
        if runs and runs[-1] and runs[-1][-1].end == token.start:
            runs[-1].append(token)
        else:
            runs.append([token])
    for run in runs:
        if not run:
            continue
        candidate = text[run[0].start : run[-1].end].upper()
        letters = any(char.isalpha() for char in candidate)
        digits = any(char.isdigit() for char in candidate)
        valid = all(char in ACK_CHARS for char in candidate)
        if len(candidate) == ACK_CODE_LENGTH and valid:
            return candidate
        if letters and (digits or len(candidate) == ACK_CODE_LENGTH):
            raise Refused(ACK_CODE_INVALID, code=candidate)
    return None


def read_move(text: str, tokens: Sequence[Token]) -> MoveExchangeCommand:
    """`改 周四 19:00`, `改到明天晚上7点半`, `MOVE THU 7:30 PM`."""
    weekday: int | None = None
    days_ahead: int | None = None
    hour: int | None = None
    minute = 0
    period: str | None = None
    typed = ""
    index = 0

    def kind_at(position: int) -> Kind | Lex | None:
        return tokens[position].kind if position < len(tokens) else None

    if any(token.kind is Kind.NEXT_WEEK for token in tokens):
        raise Refused(MOVE_NOT_THIS_WEEK)

    while index < len(tokens):
        token = tokens[index]
        kind = token.kind
        index += 1
        day_unknown = weekday is None and days_ahead is None
        if kind is Kind.WEEKDAY and day_unknown:
            weekday = token.word.value
        elif kind is Kind.WEEK_PREFIX and day_unknown and index < len(tokens):
            following = tokens[index]
            number = following.value if following.is_integer else None
            if following.kind is Kind.NUMERAL:
                number = following.word.value
            if number is not None and 1 <= number <= 7:
                weekday, index = number - 1, index + 1
        elif kind is Kind.REL_DAY and day_unknown:
            days_ahead, day_period = token.word.value
            period = period or day_period
        elif kind is Kind.PERIOD:
            period = token.word.value
        elif kind is Lex.CLOCK and hour is None:
            hour, minute = token.value
            typed = token.text
        elif hour is None and (token.lex is Lex.NUMBER or kind is Kind.NUMERAL):
            first = index - 1
            if kind is Kind.NUMERAL:
                hour = token.word.value
            elif token.is_integer:
                hour = token.value
            else:  # 7.30
                whole, _, fraction = token.text.partition(".")
                if len(fraction) != 2:
                    raise Refused(MOVE_TIME_INVALID, value=token.text)
                hour, minute = int(whole), int(fraction)
            if kind_at(index) is Kind.HOUR_MARK:
                index += 1
                if kind_at(index) is Kind.HALF:
                    minute, index = 30, index + 1
                elif kind_at(index) is Kind.QUARTER:
                    minute, index = tokens[index].word.value, index + 1
                elif index < len(tokens) and tokens[index].is_integer:
                    minute, index = tokens[index].value, index + 1
                    if kind_at(index) is Kind.MINUTE_MARK:
                        index += 1
            typed = span_text(text, tokens[first:index])
    if hour is None or (weekday is None and days_ahead is None):
        raise Refused(MOVE_INCOMPLETE)
    if period == "pm" and 1 <= hour < 12:
        hour += 12
    elif period == "am" and hour == 12:
        hour = 0
    elif period == "noon" and 1 <= hour <= 5:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise Refused(MOVE_TIME_INVALID, value=typed)
    return MoveExchangeCommand(at=time(hour, minute), weekday=weekday, days_ahead=days_ahead)
