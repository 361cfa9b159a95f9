"""Normalising a message and splitting it into tokens; reading seats and readings
(docs/sms-grammar.md, "How a message is read").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from grids.core.limits import DIASTOLIC_RANGE, GLUCOSE_RANGE, SYSTOLIC_RANGE
from notifications.sms import keywords as kw
from notifications.sms.commands import BloodPressure
from notifications.sms.errors import (
    BP_OUT_OF_RANGE,
    BP_UNREADABLE,
    EN,
    GLUCOSE_OUT_OF_RANGE,
    GLUCOSE_UNREADABLE,
    MAX_SEAT,
    SEAT_OUT_OF_RANGE,
    ZH,
    Refused,
)
from notifications.sms.keywords import Kind, Word

# --- normalising and splitting --------------------------------------------------------


_TEXT = Word(Kind.TEXT)


class Lex(StrEnum):
    NUMBER = "number"
    PAIR = "pair"
    CLOCK = "clock"
    GARBLED = "garbled"  # digits mixed with O, o, I, l: never guessed
    WORD = "word"


@dataclass(frozen=True, slots=True)
class Token:
    lex: Lex
    text: str
    start: int
    end: int
    word: Word = _TEXT
    language: str | None = None
    script: str = ""  # "digit", "latin", "han", "other": for gluing acknowledgement codes
    value: Any = None

    @property
    def kind(self) -> Kind | Lex:
        return self.word.kind if self.lex is Lex.WORD else self.lex

    @property
    def is_integer(self) -> bool:
        return self.lex is Lex.NUMBER and isinstance(self.value, int)


_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(
    r"(?P<clock>(?<![0-9])[0-9]{1,2}:[0-9]{2}(?![0-9/.:]))"
    r"|(?P<garbled>(?<![A-Za-z])(?:[0-9]+[OoIl]|[OoIl][0-9])[0-9OoIl]*"
    r"(?:[ \t]*[/\\-][ \t]*[0-9OoIl]+)?(?![A-Za-z]))"
    r"|(?P<pair>[0-9]+(?:\.[0-9]+)?[ \t]*[/\\-][ \t]*[0-9]+(?:\.[0-9]+)?)"
    r"|(?P<number>[0-9]+(?:\.[0-9]+)?)"
    r"|(?P<latin>[A-Za-z]+)"
    rf"|(?P<han>[{_HAN}]+)"
    r"|(?P<hash>#)"
    r"|(?P<other>.)",
    re.DOTALL,
)
_PAIR = re.compile(r"([0-9]+(?:\.[0-9]+)?)[ \t]*([/\\-])[ \t]*([0-9]+(?:\.[0-9]+)?)")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalise(text: str) -> str:
    """NFKC, no format characters, control characters as spaces; ASCII apostrophes."""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        if category[0] in "CZ" and char not in "\n":
            out.append("\n" if char in "\u2028\u2029" else " ")
        else:
            out.append(char)
    return "".join(out).translate(_QUOTES)


_GARBAGE_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff\ue000-\uf8ff]"
)
"""Control characters other than tab and line breaks, the replacement character that
stands for undecodable bytes, lone surrogates and private-use characters: no phone
keyboard types them."""
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?][^<>]*>|&#?[A-Za-z0-9]+;|%[89A-F][0-9A-F]")
"""HTML tags and entities, and a non-ASCII byte left percent-escaped because it was not
UTF-8."""


def is_garbage(raw: str, normalised: str) -> bool:
    """Whether a message holds what no person types (`raw` as received, `normalised` as
    `normalise` made it): such a message is not the grammar, whatever it also holds."""
    return bool(_GARBAGE_CHARACTERS.search(raw) or _MARKUP.search(normalised))


def _number(text: str) -> int | Decimal:
    return Decimal(text) if "." in text else int(text)


def is_separator(char: str) -> bool:
    return unicodedata.category(char)[0] in "PSZC"


def tokenise(text: str) -> list[Token]:
    """Split normalised text into numbers, readings, times and words."""
    raw: list[Token] = []
    for match in _TOKEN.finditer(text):
        group, piece = match.lastgroup, match.group()
        start, end = match.span()
        if group == "clock":
            hour, minute = piece.split(":")
            raw.append(
                Token(Lex.CLOCK, piece, start, end, script="digit", value=(int(hour), int(minute)))
            )
        elif group == "garbled":
            raw.append(Token(Lex.GARBLED, piece, start, end, script="digit"))
        elif group == "pair":
            left, sep, right = _PAIR.fullmatch(piece).groups()  # type: ignore[union-attr]
            raw.append(Token(Lex.PAIR, piece, start, end, script="digit", value=(left, sep, right)))
        elif group == "number":
            raw.append(Token(Lex.NUMBER, piece, start, end, script="digit", value=_number(piece)))
        elif group == "latin":
            raw.append(Token(Lex.WORD, piece, start, end, language=EN, script="latin"))
        elif group == "han":
            raw.extend(_segment_han(piece, start, text[end : end + 1].isdigit()))
        elif group == "hash":
            raw.append(Token(Lex.WORD, piece, start, end, Word(Kind.SEAT_PREFIX)))
        elif not is_separator(piece):
            previous = raw[-1] if raw else None
            if previous and previous.script == "other" and previous.end == start:
                raw[-1] = Token(
                    Lex.WORD, text[previous.start : end], previous.start, end, script="other"
                )
            else:
                raw.append(Token(Lex.WORD, piece, start, end, script="other"))
    return _join_english(raw, text)


def _segment_han(run: str, offset: int, before_digits: bool) -> list[Token]:
    """Keywords in a run of Han characters, longest first. A one-character keyword
    counts at the start of the run, after another keyword, or at the end of a run
    followed by digits (`活动到15人`); elsewhere it is part of a word (`送到医院`)."""
    tokens: list[Token] = []
    text_start: int | None = None
    after_keyword = True
    position = 0

    def flush_text(until: int) -> None:
        nonlocal text_start
        if text_start is not None:
            piece = run[text_start:until]
            tokens.append(
                Token(
                    Lex.WORD,
                    piece,
                    offset + text_start,
                    offset + until,
                    language=ZH,
                    script="han",
                )
            )
            text_start = None

    while position < len(run):
        found: tuple[str, Word] | None = None
        for length in range(min(kw.CHINESE_LONGEST, len(run) - position), 0, -1):
            piece = run[position : position + length]
            word = kw.CHINESE.get(piece)
            last = position + length == len(run)
            if word is not None and (length > 1 or after_keyword or (last and before_digits)):
                found = (piece, word)
                break
        if found is None or found[1].kind is Kind.TEXT:
            if text_start is None:
                text_start = position
            position += len(found[0]) if found else 1
            after_keyword = False
            continue
        flush_text(position)
        piece, word = found
        tokens.append(
            Token(
                Lex.WORD,
                piece,
                offset + position,
                offset + position + len(piece),
                word,
                language=ZH,
                script="han",
            )
        )
        position += len(piece)
        after_keyword = True
    flush_text(position)
    return tokens


def _join_english(raw: list[Token], text: str) -> list[Token]:
    """Look English words and phrases (up to three words) up in the vocabulary."""
    out: list[Token] = []
    index = 0
    while index < len(raw):
        token = raw[index]
        if token.script != "latin":
            out.append(token)
            index += 1
            continue
        for length in range(kw.ENGLISH_LONGEST, 0, -1):
            window = raw[index : index + length]
            if len(window) < length or any(part.script != "latin" for part in window):
                continue
            word = kw.ENGLISH.get(tuple(part.text.upper() for part in window))
            if word is not None:
                start, end = window[0].start, window[-1].end
                out.append(Token(Lex.WORD, text[start:end], start, end, word, EN, script="latin"))
                index += length
                break
        else:
            out.append(token)
            index += 1
    return out


# --- small helpers -----------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Collapse white space and drop punctuation at both ends."""
    text = " ".join(text.split())
    start, end = 0, len(text)
    while start < end and is_separator(text[start]):
        start += 1
    while end > start and is_separator(text[end - 1]):
        end -= 1
    return text[start:end]


def span_text(text: str, tokens: Sequence[Token]) -> str:
    return clean_text(text[tokens[0].start : tokens[-1].end]) if tokens else ""


def language_of(tokens: Sequence[Token]) -> str | None:
    for token in tokens:
        meaningful = token.lex is Lex.WORD and token.word.kind not in (Kind.TEXT, Kind.UNIT)
        if meaningful and token.language:
            return token.language
    for token in tokens:
        if token.lex is Lex.WORD and token.word.kind is not Kind.UNIT and token.language:
            return token.language
    return None


@dataclass(frozen=True)
class Seat:
    number: int
    end: int  # index of the token after the seat
    marked: bool  # written with 号, #, 第: certainly a seat, not a count


def seat_at(tokens: Sequence[Token], index: int) -> Seat | None:
    """The seat written at `index` (`5`, `5号`, `#5`, `第5号`, `五号`), if one is."""
    first = tokens[index]
    marked = False
    number: int | None = None
    end = index
    if first.kind is Kind.SEAT_PREFIX and index + 1 < len(tokens):
        index += 1
        marked = True
    token = tokens[index]
    if token.is_integer:
        number = token.value
        end = index + 1
    elif (
        token.kind is Kind.NUMERAL
        and index + 1 < len(tokens)
        and tokens[index + 1].kind is Kind.SEAT_SUFFIX
    ):
        number = token.word.value
        end = index + 1
    if number is None:
        return None
    after = tokens[end] if end < len(tokens) else None
    if after is not None and after.kind in (Kind.MEASURE, Kind.WEEK_PREFIX):
        touching = after.start == tokens[end - 1].end
        if after.script == "latin" or touching:
            return None  # 3天, 38度, 3周, 3 days: a quantity, not a seat
    if after is not None and after.kind is Kind.SEAT_SUFFIX:
        end += 1
        marked = True
    return Seat(number, end, marked)


def check_seat(seat: Seat) -> int:
    if not 1 <= seat.number <= MAX_SEAT:
        raise Refused(SEAT_OUT_OF_RANGE, seat=seat.number)
    return seat.number


def read_blood_pressure(seat: int, left: str, right: str) -> BloodPressure:
    value = f"{left}/{right}"
    if "." in left or "." in right:
        raise Refused(BP_UNREADABLE, seat=seat, value=value)
    systolic, diastolic = int(left), int(right)
    if not (
        SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]
        and DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]
        and systolic > diastolic
    ):
        raise Refused(BP_OUT_OF_RANGE, seat=seat, value=value)
    return BloodPressure(systolic, diastolic)


def read_glucose(seat: int, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Refused(GLUCOSE_UNREADABLE, seat=seat, value=text) from None
    if not GLUCOSE_RANGE[0] <= value <= GLUCOSE_RANGE[1]:
        raise Refused(GLUCOSE_OUT_OF_RANGE, seat=seat, value=text)
    return value
