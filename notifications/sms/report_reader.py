"""Reading a coordinator's weekly report: seats, readings, events, notes
(docs/sms-grammar.md, "Reports").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from notifications.sms.commands import (
    BloodPressure,
    MemberEvent,
    MemberItem,
    WeeklyReportCommand,
)
from notifications.sms.errors import (
    BP_UNREADABLE,
    GLUCOSE_UNREADABLE,
    ITEM_INCOMPLETE,
    MISSING_SEAT,
    NOTE_LIMIT,
    NUMBER_UNREADABLE,
    Refused,
)
from notifications.sms.keywords import Kind
from notifications.sms.red_flags import sounds_like_symptom
from notifications.sms.tokens import (
    Lex,
    Token,
    check_seat,
    read_blood_pressure,
    read_glucose,
    seat_at,
    span_text,
)

# --- reports --------------------------------------------------------------------------------

# Words that say nothing about a member when they are all a note would hold.
FILLER = frozenset(
    {
        Kind.IGNORE,
        Kind.UNIT,
        Kind.OTHERS,
        Kind.PERIOD,
        Kind.REL_DAY,
        Kind.WEEKDAY,
        Kind.SEAT_PREFIX,
        Kind.SEAT_SUFFIX,
        Kind.PEOPLE,
    }
)
READING_KINDS = frozenset({Kind.BP, Kind.BP_HIGH, Kind.BP_LOW, Kind.GLUCOSE, Kind.EVENT})


@dataclass
class _Item:
    seat: int
    blood_pressure: BloodPressure | None = None
    glucose: Decimal | None = None
    events: list[MemberEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def frozen(self) -> MemberItem:
        note = " ".join(self.notes)
        if len(note) > NOTE_LIMIT:
            note = note[: NOTE_LIMIT - 1] + "…"
        return MemberItem(
            seat=self.seat,
            blood_pressure=self.blood_pressure,
            glucose_mmol=self.glucose,
            events=tuple(self.events),
            note=note or None,
        )


class ReportReader:
    """Reads `好 5 血压165/100 12 血糖8.9` and its variants, token by token."""

    def __init__(self, text: str, tokens: Sequence[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.all_stable = False
        self.items: dict[int, _Item] = {}
        self.group: list[int] = []  # seats written together share what follows
        self.group_has_content = False
        self.note: list[Token] = []
        self.loose: list[Token] = []

    def _add(self, **content: Any) -> None:
        """Content for the seats of the current group (`stable=True`: reported, nothing to
        add)."""
        self.group_has_content = True
        for seat in self.group:
            item = self.items.setdefault(seat, _Item(seat))
            if "blood_pressure" in content:
                item.blood_pressure = content["blood_pressure"]
            if "glucose" in content:
                item.glucose = content["glucose"]
            if "event" in content and content["event"] not in item.events:
                item.events.append(content["event"])
            if "note" in content:
                item.notes.append(content["note"])

    def _flush_note(self) -> None:
        if self.note and any(token.word.kind not in FILLER for token in self.note):
            self._add(note=span_text(self.text, self.note))
        self.note = []

    def _close_group(self) -> None:
        self._flush_note()
        if self.group and not self.group_has_content:
            raise Refused(ITEM_INCOMPLETE, seat=self.group[0])
        self.group = []
        self.group_has_content = False

    def _check_loose(self) -> None:
        if self.loose and sounds_like_symptom(self.loose):
            raise Refused(MISSING_SEAT, value=span_text(self.text, self.loose))
        self.loose = []

    def _missing_seat(self, first: int, last: int) -> Refused:
        return Refused(MISSING_SEAT, value=span_text(self.text, self.tokens[first : last + 1]))

    def _seat(self) -> int:
        return self.group[0]

    def read(self, start: int) -> WeeklyReportCommand:
        tokens = self.tokens
        index = start
        just_after_seat = False
        while index < len(tokens):
            token = tokens[index]
            seat = seat_at(tokens, index)
            if seat is not None:
                number = check_seat(seat)
                self._flush_note()
                self._check_loose()
                if self.group and self.group_has_content:
                    self._close_group()
                if number not in self.group:
                    self.group.append(number)
                self.items.setdefault(number, _Item(number))
                index = seat.end
                just_after_seat = True
                continue
            after_seat, just_after_seat = just_after_seat, False
            kind = token.kind
            if kind is Kind.STABLE and after_seat and self.group:
                self._add(stable=True)
                index += 1
                continue
            if kind is Kind.STABLE or (
                kind is Kind.OTHERS
                and index + 1 < len(tokens)
                and tokens[index + 1].kind is Kind.STABLE
            ):
                self._close_group()
                self.all_stable = True
                index += 1 if kind is Kind.STABLE else 2
                continue
            if kind is Kind.UNIT:
                index += 1
                continue
            if kind is Lex.GARBLED:
                raise Refused(NUMBER_UNREADABLE, value=token.text)
            reading = (
                kind in READING_KINDS
                or kind is Lex.PAIR
                or (kind is Lex.NUMBER and not token.is_integer)
            )
            if reading:
                consumed = self._reading(index)
                if consumed:
                    index += consumed
                    continue
            if not self.group:
                self.loose.append(token)
            else:
                self.note.append(token)
            index += 1
        self._close_group()
        self._check_loose()
        if not self.items and not self.all_stable:  # `3天`: numbers, but no seat
            raise Refused(MISSING_SEAT, value=span_text(self.text, tokens[start:]))
        items = tuple(item.frozen() for item in self.items.values())
        return WeeklyReportCommand(all_stable=self.all_stable, items=items)

    def _reading(self, index: int) -> int:
        """Read a reading or event at `index` into the group; how many tokens it took
        (0: it is no reading after all and belongs to the note)."""
        tokens = self.tokens
        token = tokens[index]
        kind = token.kind
        following = tokens[index + 1 : index + 4]

        def at(offset: int) -> Token | None:
            return following[offset] if offset < len(following) else None

        if kind is Kind.EVENT:
            if not self.group:
                raise self._missing_seat(index, index)
            self._flush_note()
            self._add(event=token.word.value)
            return 1
        if kind is Lex.PAIR:
            if not self.group:
                raise self._missing_seat(index, index)
            self._flush_note()
            left, _, right = token.value
            self._add(blood_pressure=read_blood_pressure(self._seat(), left, right))
            return 1
        if kind is Lex.NUMBER:  # a bare decimal: glucose
            if not self.group:
                raise self._missing_seat(index, index)
            self._flush_note()
            self._add(glucose=read_glucose(self._seat(), token.text))
            return 1
        first = at(0)
        if first is None or first.lex not in (Lex.NUMBER, Lex.PAIR):
            return 0  # `血压高`: words, kept in the note
        if not self.group:
            raise self._missing_seat(index, index + 1)
        self._flush_note()
        seat = self._seat()
        if kind is Kind.GLUCOSE:
            if first.lex is Lex.PAIR:
                raise Refused(GLUCOSE_UNREADABLE, seat=seat, value=first.text)
            self._add(glucose=read_glucose(seat, first.text))
            return 2
        if first.lex is Lex.PAIR:
            if kind is not Kind.BP:
                raise Refused(BP_UNREADABLE, seat=seat, value=first.text)
            left, _, right = first.value
            self._add(blood_pressure=read_blood_pressure(seat, left, right))
            return 2
        second, third = at(1), at(2)
        if (
            kind in (Kind.BP, Kind.BP_HIGH)
            and second is not None
            and third is not None
            and second.kind in (Kind.BP_SEP, Kind.BP_LOW)
            and third.lex is Lex.NUMBER
        ):
            self._add(blood_pressure=read_blood_pressure(seat, first.text, third.text))
            return 4
        if kind in (Kind.BP, Kind.BP_HIGH) and second is not None and second.lex is Lex.NUMBER:
            self._add(blood_pressure=read_blood_pressure(seat, first.text, second.text))
            return 3
        raise Refused(BP_UNREADABLE, seat=seat, value=first.text)
