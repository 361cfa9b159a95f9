"""The coordinators' SMS grammar: text in, a `Parsed` command or error out.

`parse(text)` is pure and never raises. `error_text(error, language)` is the
correction sent back for a `ParseError`, from the `sms.error.*` catalogue
entries, within one SMS segment.

How a message is read
---------------------
1. Only the first 500 characters are read (`MAX_INPUT_CHARS`); a longer message
   is refused as `too_long` unless its first 1,600 hold `急` or a red flag: then it
   is read around that, as an urgent case, and any report in it is not recorded
   (`report_error`). The text is NFKC-normalised
   (full-width `１５０／９５`, `，`, `：`, letters and spaces become ASCII; `⑤`
   becomes `5`), invisible format characters are dropped and English is matched
   case-insensitively.
2. Opt-out and opt-in words are whole-message keywords, matched as Twilio and
   Chinese carriers match them: the whole message, trimmed of spaces and of
   punctuation around it, case-insensitive, equals the keyword (Twilio acts on
   single-word messages only: `STOP` opts out, `STOP PLEASE` does not). So `T`,
   `TD`, `R`, `N`, `退订`, `STOP`, `CANCEL`, ... opt out only when sent alone,
   and a message that merely contains one is never read as an opt-out; no command
   of ours is a single letter. `START`, `YES`, `UNSTOP`, `开始`, `订阅`, `恢复`
   opt back in, also only alone. A message of question marks alone asks for help.
3. The rest is split into items at spaces, commas, `、`, `；`, `。`, `：`, new lines
   and any other punctuation, and where Han characters meet digits or Latin
   letters (`好5血压165/100`, `5号血压150/95`, `bp150/95`). Chinese keywords are
   found inside runs of Han characters, longest first; a one-character keyword
   (`好`, `急`, `到`, `改`, `停`, `号`) counts only at the start of a run, right
   after another keyword, or at the end of a run that digits follow (`活动到15人`),
   so `送到医院` holds no `到` and `老李好像头晕` no `好`.
4. Red flags come first. An explicit urgent word (`急`, `紧急`, `救命`, `快来人`,
   `URGENT`, `SOS`, `HELP ME` ...) anywhere makes the message an `UrgentCommand`;
   so does a red-flag symptom anywhere (chest pain, breathing difficulty,
   unconsciousness, stroke signs, heavy bleeding, convulsions, a fall with no
   getting up; see `keywords.RED_FLAGS_*`), with `implicit=True`. A report
   written with it (`好 5 胸闷`, `好 5 血压150/95 急 7 胸痛`) is carried in
   `report`, or, when a reading in it was refused, its error in `report_error`.
   A red flag right after a negation (`无胸痛`, `没有胸闷`, `no chest pain`) is
   denied, not reported: the words stay the member's note (with `急` the message
   is urgent anyway). Urgent messages are never refused. The seat is the number
   right after `急` (any up to 99: `急 25 胸痛` names a member the grid lacks, and
   the caller reports it as such, never as the sender's own case), else one
   marked with 号/#, else for a red flag the member whose words name it or the
   last seat before it; else None. `text` is what was said of the member, cut
   around the red flag when long so the doctor's alert shows it. The one
   exception: an acknowledgement carrying a valid code (`收到 K7Q 胸痛已处理`) is
   a doctor answering an escalation, not a new one.
5. Otherwise the first command word decides, after any greeting or name
   (`医生好，收到` is an acknowledgement; `今天活动到15人` is attendance). A message
   starting with a seat, a reading or an event is a partial report.

Reports
-------
- A seat is `5`, `5号`, `#5`, `第5号`, `五号`, `NO.5`; 1-20, else
  `seat_out_of_range`. Whether the grid has that seat is the caller's check. A
  number followed by a unit (`3天`, `38度`, `2片`, `3周`, `3 days`) is a quantity in
  a note, not a seat.
- After a seat: `血压`/`BP` then `150/95`, `150／95`, `150-95`, `150\\95`,
  `150比95`, `150 95` (a space: slashes are hard to type on a keypad), or
  `高压150低压95`; a bare `150/95` or `150-95` also means blood pressure. `血糖`/
  `BG`/`GLU`/`SUGAR` (`空腹`, `餐后`) then `8.9` or `8`; a bare decimal also means
  glucose. A bare whole number is the next seat. Units (`mmHg`, `mmol/L`,
  `毫摩尔`) are skipped. Letter O for zero is never guessed.
- Plausible: systolic 60-300, diastolic 30-200, systolic above diastolic
  (`bp_out_of_range`); glucose 1.0-40.0 mmol/L (`glucose_out_of_range`); numbers
  that cannot be a reading at all give `bp_unreadable` / `glucose_unreadable`;
  digits mixed with O, o, I or l (`15O/95`) give `number_unreadable`.
- Events: `住院`/`HOSP`, `出院`/`HOME`/`DISCHARGED`, `漏药`/`MISSED`, `去世`/`DIED`.
- Any other words after a seat are kept as the member's `note`, as typed after
  normalisation (`5 头晕，乏力` → `头晕,乏力`); a reading keyword with no number
  stays in the note (`5 血压高`); courtesies alone (`5 谢谢`) are no note.
- Seats written together share what follows: `5、7 住院` = `5 住院 7 住院`.
  A seat followed only by a stable word (`5 正常`) is a `MemberItem` with nothing
  else: reported, stable. A seat followed by nothing is `item_incomplete`.
  The same seat twice is merged (later readings win, events add up).
- `好` (or `OK`, `都好`, `正常`, `平安`, `没变化`, `NO CHANGE` ...) anywhere outside a
  member item, or `其他都好` / `REST OK` after the items, sets `all_stable`: the
  items are then the exceptions. Without it the report is partial.
- A reading or event with no seat before it is `missing_seat`. Other loose words
  with no seat are ignored as courtesy (`好，辛苦了`), unless they sound like a
  symptom (`好 老李头晕`): then `missing_seat` too, rather than "all stable".

Other commands
--------------
- Attendance `到`/`ATT`: one number is a headcount (0-20, `到15人`, `到十五人` too);
  two or more are the seats present (ranges `1-12` allowed), headcount = how
  many; a single seat marked as one (`到 5号`) is a seat. No number:
  `attendance_missing`; a seat past 20 gets an attendance example.
- Acknowledge `收到`/`ACK` [code]: the code is three characters of
  `ABCDEFGHJKLMNPQRSTUVWXYZ23456789`, upper-cased; letters and digits that look
  like a code but are not one give `ack_code_invalid`; other words are ignored.
  A code alone that mixes letters and digits (`K7Q`) is an acknowledgement too.
- Move `改`/`MOVE` day time: a weekday (`周四`, `星期四`, `礼拜四`, `周4`, `THU`) or
  `今天`/`明天`/`后天`/`TODAY`/`TOMORROW`, and a time (`19:00`, `19点`, `7点半`,
  `7点30`, `七点半`, `7.30`, `7PM`, `7:30 PM`). Hours are read as written (24-hour
  clock) unless marked: `上午`/`早上`/`AM`, `下午`/`晚上`/`今晚`/`PM`, `中午` (1-5 →
  afternoon); the confirmation restates the time, so `改 周四 7点` meaning 19:00
  is caught by the sender. Missing day or time: `move_incomplete`; a day of next
  week (`下周一`, `NEXT MON`): `move_not_this_week`.
- Skip `停`/`本周停`/`SKIP`. Help `帮助`/`怎么发`/`HELP`/`INFO`/`?`.

Language: `zh_CN` or `en` from the first keyword; failing that from any Han or
Latin text; None when it cannot be told (digits only, `?`, `T`). A text whose
Latin words are all keywords (`OK 5 BP150/95`, `STOP`) is typed by Chinese
volunteers too: `keywords_only` tells the caller to answer it in the sender's
own language.

Pinyin input offers homophones (`血亚`, `学压`, `血唐`, `去逝`) and some phones
write traditional characters (`號`, `血壓`): both are read as meant. A message
that asks in words to stop (`不要再发了`, `don't send`) is no opt-out (carriers
act on the keyword alone) and gets the `optout` hint: how to opt out.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from grids.core.limits import (
    ACK_ALPHABET,
    ACK_CODE_LENGTH,
    DIASTOLIC_RANGE,
    GLUCOSE_RANGE,
    SEAT_RANGE,
    SYSTOLIC_RANGE,
    URGENT_FORWARD_CHARS,
)
from i18n import catalogue, normalise_language
from notifications.sms import keywords as kw
from notifications.sms.commands import (
    AckCommand,
    AttendanceCommand,
    BloodPressure,
    Command,
    HelpCommand,
    MemberEvent,
    MemberItem,
    MoveExchangeCommand,
    OptInCommand,
    OptOutCommand,
    Parsed,
    ParseError,
    SkipExchangeCommand,
    UrgentCommand,
    WeeklyReportCommand,
)
from notifications.sms.keywords import Kind, Word
from notifications.sms.segments import GSM_7, encoding, fits_one_segment

MAX_INPUT_CHARS = 500
MAX_SEAT = SEAT_RANGE[1]
MAX_HEADCOUNT = 20
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

log = logging.getLogger(__name__)

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


class _Refused(Exception):
    """Internal: stops parsing with a `ParseError`."""

    def __init__(self, error_code: str, /, **params: Any) -> None:
        super().__init__(error_code)
        self.error = ParseError(error_code, params)


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


def _number(text: str) -> int | Decimal:
    return Decimal(text) if "." in text else int(text)


def _is_separator(char: str) -> bool:
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
        elif not _is_separator(piece):
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


def _clean(text: str) -> str:
    """Collapse white space and drop punctuation at both ends."""
    text = " ".join(text.split())
    start, end = 0, len(text)
    while start < end and _is_separator(text[start]):
        start += 1
    while end > start and _is_separator(text[end - 1]):
        end -= 1
    return text[start:end]


def _span(text: str, tokens: Sequence[Token]) -> str:
    return _clean(text[tokens[0].start : tokens[-1].end]) if tokens else ""


def _language(tokens: Sequence[Token]) -> str | None:
    for token in tokens:
        meaningful = token.lex is Lex.WORD and token.word.kind not in (Kind.TEXT, Kind.UNIT)
        if meaningful and token.language:
            return token.language
    for token in tokens:
        if token.lex is Lex.WORD and token.word.kind is not Kind.UNIT and token.language:
            return token.language
    return None


@dataclass(frozen=True)
class _Seat:
    number: int
    end: int  # index of the token after the seat
    marked: bool  # written with 号, #, 第: certainly a seat, not a count


def _seat_at(tokens: Sequence[Token], index: int) -> _Seat | None:
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
    return _Seat(number, end, marked)


def _check_seat(seat: _Seat) -> int:
    if not 1 <= seat.number <= MAX_SEAT:
        raise _Refused(SEAT_OUT_OF_RANGE, seat=seat.number)
    return seat.number


def _blood_pressure(seat: int, left: str, right: str) -> BloodPressure:
    value = f"{left}/{right}"
    if "." in left or "." in right:
        raise _Refused(BP_UNREADABLE, seat=seat, value=value)
    systolic, diastolic = int(left), int(right)
    if not (
        SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]
        and DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]
        and systolic > diastolic
    ):
        raise _Refused(BP_OUT_OF_RANGE, seat=seat, value=value)
    return BloodPressure(systolic, diastolic)


def _glucose(seat: int, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Refused(GLUCOSE_UNREADABLE, seat=seat, value=text) from None
    if not GLUCOSE_RANGE[0] <= value <= GLUCOSE_RANGE[1]:
        raise _Refused(GLUCOSE_OUT_OF_RANGE, seat=seat, value=text)
    return value


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


def _excerpt(words: str) -> str:
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


def _sounds_like_symptom(tokens: Sequence[Token]) -> bool:
    for token in tokens:
        if token.lex is not Lex.WORD or token.word.kind is not Kind.TEXT:
            continue
        if token.script == "han" and any(hint in token.text for hint in kw.SYMPTOM_HINTS_CHINESE):
            return True
        if token.script == "latin" and token.text.upper() in kw.SYMPTOM_HINTS_ENGLISH:
            return True
    return False


# --- reports --------------------------------------------------------------------------------

# Words that say nothing about a member when they are all a note would hold.
_FILLER = frozenset(
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
_READING_KINDS = frozenset({Kind.BP, Kind.BP_HIGH, Kind.BP_LOW, Kind.GLUCOSE, Kind.EVENT})


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


class _ReportReader:
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
        if self.note and any(token.word.kind not in _FILLER for token in self.note):
            self._add(note=_span(self.text, self.note))
        self.note = []

    def _close_group(self) -> None:
        self._flush_note()
        if self.group and not self.group_has_content:
            raise _Refused(ITEM_INCOMPLETE, seat=self.group[0])
        self.group = []
        self.group_has_content = False

    def _check_loose(self) -> None:
        if self.loose and _sounds_like_symptom(self.loose):
            raise _Refused(MISSING_SEAT, value=_span(self.text, self.loose))
        self.loose = []

    def _missing_seat(self, first: int, last: int) -> _Refused:
        return _Refused(MISSING_SEAT, value=_span(self.text, self.tokens[first : last + 1]))

    def _seat(self) -> int:
        return self.group[0]

    def read(self, start: int) -> WeeklyReportCommand:
        tokens = self.tokens
        index = start
        just_after_seat = False
        while index < len(tokens):
            token = tokens[index]
            seat = _seat_at(tokens, index)
            if seat is not None:
                number = _check_seat(seat)
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
                raise _Refused(NUMBER_UNREADABLE, value=token.text)
            reading = (
                kind in _READING_KINDS
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
            raise _Refused(MISSING_SEAT, value=_span(self.text, tokens[start:]))
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
            self._add(blood_pressure=_blood_pressure(self._seat(), left, right))
            return 1
        if kind is Lex.NUMBER:  # a bare decimal: glucose
            if not self.group:
                raise self._missing_seat(index, index)
            self._flush_note()
            self._add(glucose=_glucose(self._seat(), token.text))
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
                raise _Refused(GLUCOSE_UNREADABLE, seat=seat, value=first.text)
            self._add(glucose=_glucose(seat, first.text))
            return 2
        if first.lex is Lex.PAIR:
            if kind is not Kind.BP:
                raise _Refused(BP_UNREADABLE, seat=seat, value=first.text)
            left, _, right = first.value
            self._add(blood_pressure=_blood_pressure(seat, left, right))
            return 2
        second, third = at(1), at(2)
        if (
            kind in (Kind.BP, Kind.BP_HIGH)
            and second is not None
            and third is not None
            and second.kind in (Kind.BP_SEP, Kind.BP_LOW)
            and third.lex is Lex.NUMBER
        ):
            self._add(blood_pressure=_blood_pressure(seat, first.text, third.text))
            return 4
        if kind in (Kind.BP, Kind.BP_HIGH) and second is not None and second.lex is Lex.NUMBER:
            self._add(blood_pressure=_blood_pressure(seat, first.text, second.text))
            return 3
        raise _Refused(BP_UNREADABLE, seat=seat, value=first.text)


# --- the other commands -------------------------------------------------------------------


def _attendance(tokens: Sequence[Token]) -> AttendanceCommand:
    """`到 15`, `到15人` (a headcount) or `到 1 2 3`, `到 1-12 15`, `到 5号` (seats)."""
    numbers: list[_Seat] = []
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
        seat = _seat_at(tokens, index)
        if seat is None and token.kind is Kind.NUMERAL:
            seat = _Seat(token.word.value, index + 1, marked=False)  # `到十五人`
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
        raise _Refused(HEADCOUNT_OUT_OF_RANGE, value=people)
    # The correction's example is then one of attendance (`sms.error.<code>.attendance`).
    for number in [seat.number for seat in numbers] + [n for pair in ranges for n in pair]:
        if not 1 <= number <= MAX_SEAT:
            raise _Refused(SEAT_OUT_OF_RANGE, seat=number, context="attendance")
    seats = [seat.number for seat in numbers]
    for low, high in ranges:
        seats.extend(range(min(low, high), max(low, high) + 1))
    present = tuple(sorted(set(seats)))
    if people is None and not present:
        raise _Refused(ATTENDANCE_MISSING)
    return AttendanceCommand(headcount=len(present) if people is None else people, seats=present)


def _ack_code(text: str, tokens: Sequence[Token]) -> str | None:
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
            raise _Refused(ACK_CODE_INVALID, code=candidate)
    return None


def _move(text: str, tokens: Sequence[Token]) -> MoveExchangeCommand:
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
        raise _Refused(MOVE_NOT_THIS_WEEK)

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
                    raise _Refused(MOVE_TIME_INVALID, value=token.text)
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
            typed = _span(text, tokens[first:index])
    if hour is None or (weekday is None and days_ahead is None):
        raise _Refused(MOVE_INCOMPLETE)
    if period == "pm" and 1 <= hour < 12:
        hour += 12
    elif period == "am" and hour == 12:
        hour = 0
    elif period == "noon" and 1 <= hour <= 5:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise _Refused(MOVE_TIME_INVALID, value=typed)
    return MoveExchangeCommand(at=time(hour, minute), weekday=weekday, days_ahead=days_ahead)


def _urgent(
    text: str,
    tokens: Sequence[Token],
    at: int,
    flag: re.Match[str] | None,
    *,
    carry_report: bool = True,
) -> UrgentCommand:
    """`急 5 胸痛`, or `急` anywhere: never refused."""
    opening = all(token.kind in _FILLER | {Kind.TEXT} for token in tokens[:at])
    seat_number: int | None = None
    rest_from = tokens[at].end
    words_follow = opening
    if at + 1 < len(tokens):
        seat = _seat_at(tokens, at + 1)
        if seat is not None and seat.number <= MAX_WRITTEN_SEAT:
            seat_number = seat.number
            rest_from = tokens[seat.end - 1].end
            words_follow = True
    if seat_number is None:
        later = (_seat_at(tokens, index) for index in range(at + 1, len(tokens)))
        marked = [seat for seat in later if seat is not None and seat.marked]
        earlier = [_seat_at(tokens, index) for index in range(at)]
        if marked and marked[0].number <= MAX_WRITTEN_SEAT:
            seat_number = marked[0].number
        elif not opening:
            before = [seat for seat in earlier if seat is not None]
            if before and 1 <= before[-1].number <= MAX_SEAT:
                seat_number = before[-1].number
    words = _clean(text[rest_from:]) if words_follow else _clean(text)
    said = [
        token
        for index, token in enumerate(tokens)
        if index != at and not token.is_integer and token.kind not in _FILLER
    ]
    if not said:
        words = ""  # `5号 急`, `救命啊 3号`: a seat and `急`, nothing more to restate
    report, report_error = (None, None)
    if carry_report and not opening:
        report, report_error = _report_before(text, tokens[:at])
    return UrgentCommand(
        seat=seat_number,
        text=words[:URGENT_TEXT_LIMIT],
        red_flag=flag is not None,
        implicit=False,
        report=report,
        report_error=report_error,
    )


# Errors that say a reading was written and could not be taken: a report the sender
# meant, which an urgent message carried and which was not recorded.
_READING_ERRORS = frozenset(
    {BP_OUT_OF_RANGE, BP_UNREADABLE, GLUCOSE_OUT_OF_RANGE, GLUCOSE_UNREADABLE, NUMBER_UNREADABLE}
)


def _report_before(
    text: str, tokens: Sequence[Token]
) -> tuple[WeeklyReportCommand | None, ParseError | None]:
    """The report written before `急` (`好 5 血压150/95 急 7 胸痛`), if it names members."""
    if not tokens:
        return None, None
    try:
        command = _command(text, list(tokens))
    except _Refused as refused:
        return None, refused.error if refused.error.code in _READING_ERRORS else None
    if isinstance(command, WeeklyReportCommand) and command.items:
        return command, None
    return None, None


def _implicit_urgent(
    text: str,
    tokens: Sequence[Token],
    flag: re.Match[str],
    report: WeeklyReportCommand | None,
    report_error: ParseError | None = None,
) -> UrgentCommand:
    """A red flag without `急`: about the member whose words name it, else the last seat
    written before it. The text is those words (or the message) around the flag."""
    seat_number: int | None = None
    words: str | None = None
    if report is not None:
        for item in report.items:
            if item.note and red_flag_match(item.note) is not None:
                seat_number, words = item.seat, item.note
                break
    if seat_number is None:
        # The last seat written before the flag. One written after it may be another
        # member's (`老王胸痛，5号血压150/95`): then the member is left unclear and the
        # doctor reads the words.
        for index, token in enumerate(tokens):
            if token.start >= flag.start():
                break
            seat = _seat_at(tokens, index)
            if seat is not None and 1 <= seat.number <= MAX_SEAT:
                seat_number = seat.number
                words = _clean(text[tokens[seat.end - 1].end :])
    return UrgentCommand(
        seat=seat_number,
        text=_excerpt(words or _clean(text)),
        red_flag=True,
        implicit=True,
        report=report,
        report_error=report_error,
    )


# --- the whole message ---------------------------------------------------------------------


def _whole_message_keyword(text: str) -> Parsed | None:
    """Opt-out, opt-in and help words, which act only as the whole message."""
    if set(text.strip()) <= {"?", " "}:
        return Parsed(HelpCommand(), None, None)
    bare = _clean(text)
    upper = bare.upper()
    if upper in kw.OPT_OUT_ENGLISH:
        return Parsed(OptOutCommand(upper), None, EN)
    if upper in kw.OPT_OUT_LETTERS:
        return Parsed(OptOutCommand(upper), None, None)
    if bare in kw.OPT_OUT_CHINESE:
        return Parsed(OptOutCommand(bare), None, ZH)
    if upper in kw.OPT_IN_ENGLISH:
        return Parsed(OptInCommand(upper), None, EN)
    if bare in kw.OPT_IN_CHINESE:
        return Parsed(OptInCommand(bare), None, ZH)
    return None


def _bare_ack_code(text: str) -> str | None:
    """A doctor answering an escalation with its code alone (`K7Q`): letters and digits."""
    bare = _clean(text).upper()
    if (
        len(bare) == ACK_CODE_LENGTH
        and all(char in ACK_CHARS for char in bare)
        and any(char.isalpha() for char in bare)
        and any(char.isdigit() for char in bare)
    ):
        return bare
    return None


def _asks_to_stop(text: str) -> bool:
    """`不要再发了`, `stop sending me this`: a wish to opt out, not the keyword itself."""
    return any(request in text for request in kw.STOP_REQUESTS_CHINESE) or bool(
        kw.STOP_REQUESTS_ENGLISH.search(text)
    )


def _hint(text: str, tokens: Sequence[Token]) -> str | None:
    """Which example an unreadable message most likely needs (None: the general one)."""
    meaningful = [token for token in tokens if token.kind is not Kind.IGNORE]
    if meaningful:
        first = meaningful[0].text
        if first.upper() in kw.OPT_OUT_ENGLISH or first.startswith(tuple(kw.OPT_OUT_CHINESE)):
            return "optout"
    if _asks_to_stop(text):
        return "optout"
    if any(token.kind is Kind.PEOPLE or "到" in token.text for token in tokens):
        return "attendance"
    if any(
        token.kind in (Lex.CLOCK, Kind.HOUR_MARK, Kind.MOVE) or token.text.startswith("改")
        for token in tokens
    ):
        return "move"
    if any(token.kind in (Kind.NUMERAL, Kind.SEAT_PREFIX, Kind.SEAT_SUFFIX) for token in tokens):
        return "report"
    return None


def _head(tokens: Sequence[Token]) -> int | None:
    """Where the message's command starts: the first command word or report item,
    after nothing but greetings, names and other words."""
    for index, token in enumerate(tokens):
        kind = token.kind
        if kind in kw.COMMAND_KINDS or kind in _READING_KINDS:
            return index
        if kind in (Lex.NUMBER, Lex.PAIR, Lex.GARBLED) or _seat_at(tokens, index) is not None:
            return index
        if (
            kind is Kind.OTHERS
            and index + 1 < len(tokens)
            and tokens[index + 1].kind is Kind.STABLE
        ):
            return index
    return None


def _command(text: str, tokens: list[Token]) -> Command:
    head = _head(tokens)
    if head is None:
        if _sounds_like_symptom(tokens):
            raise _Refused(MISSING_SEAT, value=_span(text, tokens))
        raise _Refused(UNRECOGNISED, hint=_hint(text, tokens))
    kind = tokens[head].kind
    rest = tokens[head + 1 :]
    if kind is Kind.ATTEND:
        return _attendance(rest)
    if kind is Kind.ACK:
        return AckCommand(code=_ack_code(text, rest))
    if kind is Kind.HELP:
        return HelpCommand()
    if kind is Kind.MOVE:
        return _move(text, rest)
    if kind is Kind.SKIP:
        return SkipExchangeCommand()
    if kind is Kind.STABLE or kind is Kind.OTHERS:
        return _ReportReader(text, tokens).read(head)
    if all(token.is_integer or token.kind in _FILLER for token in tokens) and not any(
        token.kind in (Kind.SEAT_PREFIX, Kind.SEAT_SUFFIX) for token in tokens
    ):
        raise _Refused(UNRECOGNISED, hint="numbers")
    return _ReportReader(text, tokens).read(head)


def _parse(message: str) -> Parsed:
    message = message.strip()
    if len(message) > MAX_INPUT_CHARS:
        return _too_long(message)
    # NFKC can lengthen text (one ligature becomes up to 18 characters): bound it again.
    text = normalise(message)[: 2 * MAX_INPUT_CHARS]
    if not text.strip():
        return Parsed(None, ParseError(EMPTY), None)
    keyword = _whole_message_keyword(text)
    if keyword is not None:
        return keyword
    tokens = tokenise(text)
    language = _language(tokens)
    code = _bare_ack_code(text)
    if code is not None:
        return Parsed(AckCommand(code), None, None)
    flag = red_flag_match(text)
    urgent_at = next((i for i, token in enumerate(tokens) if token.kind is Kind.URGENT), None)
    if urgent_at is not None:
        return Parsed(_urgent(text, tokens, urgent_at, flag), None, language)
    try:
        command: Command | None = _command(text, tokens)
        error: ParseError | None = None
    except _Refused as refused:
        command, error = None, refused.error
    if flag is not None:
        if isinstance(command, AckCommand) and command.code is not None:
            return Parsed(command, None, language)
        report = command if isinstance(command, WeeklyReportCommand) else None
        report_error = error if error is not None and error.code in _READING_ERRORS else None
        urgent = _implicit_urgent(text, tokens, flag, report, report_error)
        return Parsed(urgent, None, language)
    return Parsed(command, error, language)


def _too_long(message: str) -> Parsed:
    """A message past `MAX_INPUT_CHARS` is refused, unless it is urgent anywhere in its
    first `MAX_URGENT_SCAN_CHARS`: then it is read around the first sign of it. A report
    it carries is not recorded (`report_error` says so): the sender is asked to split it."""
    scanned = normalise(message[:MAX_URGENT_SCAN_CHARS])[: 2 * MAX_URGENT_SCAN_CHARS]
    tokens = tokenise(scanned)
    flag = red_flag_match(scanned)
    urgent = next((token for token in tokens if token.kind is Kind.URGENT), None)
    too_long = ParseError(TOO_LONG, {"limit": MAX_INPUT_CHARS})
    if urgent is None and flag is None:
        return Parsed(None, too_long, _language(tokens[:200]))
    anchor = min(
        position
        for position in (urgent.start if urgent else None, flag.start() if flag else None)
        if position is not None
    )
    start = max(0, anchor - 60)
    while 0 < start < anchor and not _is_separator(scanned[start - 1]):
        start += 1  # begin at a word, not inside a number or a seat
    window = scanned[start : start + MAX_INPUT_CHARS]
    tokens = tokenise(window)
    language = _language(tokens)
    flag = red_flag_match(window)
    at = next((i for i, token in enumerate(tokens) if token.kind is Kind.URGENT), None)
    if at is not None:
        command = _urgent(window, tokens, at, flag, carry_report=False)
    else:
        assert flag is not None
        command = _implicit_urgent(window, tokens, flag, None)
    return Parsed(replace(command, report=None, report_error=too_long), None, language)


_NEUTRAL_WORDS = frozenset(
    {word for phrase in kw.ENGLISH for word in phrase}
    | kw.OPT_OUT_ENGLISH
    | kw.OPT_IN_ENGLISH
    | kw.OPT_OUT_LETTERS
)


def keywords_only(text: str) -> bool:
    """Whether every Latin word of `text` is one of the grammar's keywords or a single
    letter (`OK`, `OK 5 BP150/95`, `ACK K7Q`, `STOP`). Chinese volunteers type these
    too, so such a text says nothing of the language its writer reads."""
    words = re.findall(r"[A-Za-z]+", normalise(text[:MAX_URGENT_SCAN_CHARS]))
    return all(len(word) == 1 or word.upper() in _NEUTRAL_WORDS for word in words)


def parse(text: str) -> Parsed:
    """Read one SMS. Never raises: what cannot be read is a `ParseError`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    try:
        return _parse(text)
    except Exception:  # a bug must not lose the message: the caller stores it and replies
        log.exception("the SMS grammar failed on a message of %d characters", len(text))
        return Parsed(None, ParseError(UNRECOGNISED, {"hint": None}), None)


# --- corrections ----------------------------------------------------------------------------

_VALUE_LIMIT = 10
"""UTF-16 code units of a parameter shown in a correction; longer values are cut."""


def _shown(value: Any, language: str) -> str:
    """A parameter as a correction shows it: at most `_VALUE_LIMIT` code units."""
    text = " ".join(str(value).split())
    if length_utf16(text) <= _VALUE_LIMIT:
        return text
    ellipsis = "…" if language == ZH else ".."
    out, used = "", len(ellipsis)
    for char in text:
        cost = 2 if ord(char) > 0xFFFF else 1
        if used + cost > _VALUE_LIMIT:
            break
        out, used = out + char, used + cost
    return out + ellipsis


def length_utf16(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _gsm_safe(text: str) -> str:
    return "".join(char if encoding(char) == GSM_7 else "?" for char in text)


def error_text(error: ParseError, language: str | None) -> str:
    """The correction for `error` in `language`: what was wrong and a correct example,
    in one SMS segment (70 characters in Chinese, 160 GSM-7 in English).

    A value that would push the text past one segment (an emoji or Chinese word
    quoted in an English reply makes it UCS-2) is left out (`<key>.plain`) or, in
    English, written in GSM characters only."""
    language = normalise_language(language)
    messages = catalogue(language)
    key = f"sms.error.{error.code}"
    hint = error.params.get("hint")
    if error.code == UNRECOGNISED and hint in HINTS:
        key = f"{key}.{hint}"
    context = error.params.get("context")
    if context and messages.has(f"{key}.{context}"):
        key = f"{key}.{context}"
    if not messages.has(key):
        key = f"sms.error.{UNRECOGNISED}"
    wanted = messages.placeholders(key)
    params = {name: _shown(error.params.get(name, "?"), language) for name in wanted}
    text = messages.text(key, **params)
    if fits_one_segment(text):
        return text
    if messages.has(f"{key}.plain"):
        return messages.text(f"{key}.plain")
    return messages.text(key, **{name: _gsm_safe(value) for name, value in params.items()})
