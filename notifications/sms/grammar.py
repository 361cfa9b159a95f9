"""The coordinators' SMS grammar: text in, a `Parsed` command or error out.

`parse(text)` is pure and never raises. `error_text(error, language)` is the
correction sent back for a `ParseError`, from the `sms.error.*` catalogue
entries, within one SMS segment. How a message is read, what each command
accepts and every error code: docs/sms-grammar.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from grids.core.limits import ACK_CODE_LENGTH
from i18n import catalogue, normalise_language
from notifications.sms import keywords as kw
from notifications.sms.case_commands import CLOSE_WORDS, FOLLOWUP_WORDS, read_case_command
from notifications.sms.commands import (
    AckCommand,
    Command,
    HelpCommand,
    OptInCommand,
    OptOutCommand,
    Parsed,
    ParseError,
    SkipExchangeCommand,
    UrgentCommand,
    UrgentMember,
    WeeklyReportCommand,
)
from notifications.sms.errors import (
    ACK_CHARS,
    ACK_CODE_INVALID,
    BP_OUT_OF_RANGE,
    BP_UNREADABLE,
    EMPTY,
    EN,
    GLUCOSE_OUT_OF_RANGE,
    GLUCOSE_UNREADABLE,
    HINTS,
    MAX_INPUT_CHARS,
    MAX_SEAT,
    MAX_URGENT_SCAN_CHARS,
    MAX_WRITTEN_SEAT,
    MISSING_SEAT,
    NUMBER_UNREADABLE,
    TOO_LONG,
    UNRECOGNISED,
    URGENT_TEXT_LIMIT,
    ZH,
    Refused,
)
from notifications.sms.keywords import Kind
from notifications.sms.other_commands import read_ack_code, read_attendance, read_move
from notifications.sms.red_flags import excerpt, red_flag, red_flag_match, sounds_like_symptom
from notifications.sms.report_reader import FILLER, READING_KINDS, ReportReader
from notifications.sms.segments import GSM_7, encoding, fits_one_segment
from notifications.sms.tokens import (
    Lex,
    Token,
    clean_text,
    is_garbage,
    is_separator,
    language_of,
    normalise,
    seat_at,
    span_text,
    tokenise,
)

# What callers use; the error codes and limits live in `notifications.sms.errors`.
__all__ = [
    "ACK_CODE_INVALID",
    "TOO_LONG",
    "error_text",
    "is_urgent",
    "keywords_only",
    "parse",
    "red_flag",
]

log = logging.getLogger(__name__)


def _urgent(
    text: str,
    tokens: Sequence[Token],
    at: int,
    flag: re.Match[str] | None,
    *,
    carry_report: bool = True,
) -> UrgentCommand:
    """`急 5 胸痛`, or `急` anywhere: never refused."""
    opening = all(token.kind in FILLER | {Kind.TEXT} for token in tokens[:at])
    seat_number: int | None = None
    rest_from = tokens[at].end
    words_follow = opening
    if at + 1 < len(tokens):
        seat = seat_at(tokens, at + 1)
        if seat is not None and seat.number <= MAX_WRITTEN_SEAT:
            seat_number = seat.number
            rest_from = tokens[seat.end - 1].end
            words_follow = True
    if seat_number is None:
        later = (seat_at(tokens, index) for index in range(at + 1, len(tokens)))
        marked = [seat for seat in later if seat is not None and seat.marked]
        earlier = [seat_at(tokens, index) for index in range(at)]
        if marked and marked[0].number <= MAX_WRITTEN_SEAT:
            seat_number = marked[0].number
        elif not opening:
            before = [seat for seat in earlier if seat is not None]
            if before and 1 <= before[-1].number <= MAX_SEAT:
                seat_number = before[-1].number
    alarms = [index for index in range(at + 1, len(tokens)) if tokens[index].kind is Kind.URGENT]
    others = _urgent_after(text, tokens, alarms)
    # `急 5 胸痛 急 6 昏迷`: member 5's words stop where member 6's alarm begins.
    stop = tokens[alarms[0]].start if others else len(text)
    words = clean_text(text[rest_from:stop]) if words_follow else clean_text(text)
    said = [
        token
        for index, token in enumerate(tokens)
        if index != at and not token.is_integer and token.kind not in FILLER
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
        others=_other_members(seat_number, [*_red_flag_notes(report), *others]),
    )


def _urgent_after(text: str, tokens: Sequence[Token], starts: list[int]) -> list[UrgentMember]:
    """The members named after each later `急` (`... 急 6号 昏迷`), with their words."""
    members: list[UrgentMember] = []
    for number, start in enumerate(starts):
        seat = seat_at(tokens, start + 1) if start + 1 < len(tokens) else None
        if seat is None or not 1 <= seat.number <= MAX_WRITTEN_SEAT:
            continue
        end = tokens[starts[number + 1]].start if number + 1 < len(starts) else len(text)
        words = clean_text(text[tokens[seat.end - 1].end : end])
        members.append(UrgentMember(seat.number, words[:URGENT_TEXT_LIMIT]))
    return members


def _red_flag_notes(report: WeeklyReportCommand | None) -> list[UrgentMember]:
    """The members a report says a red-flag symptom of (`好 3 昏迷 4 胸痛`)."""
    if report is None:
        return []
    return [
        UrgentMember(item.seat, excerpt(item.note))
        for item in report.items
        if item.note and red_flag_match(item.note) is not None
    ]


def _other_members(seat: int | None, members: list[UrgentMember]) -> tuple[UrgentMember, ...]:
    """`members` but the case's own, each seat once."""
    chosen: dict[int, UrgentMember] = {}
    for member in members:
        if member.seat != seat:
            chosen.setdefault(member.seat, member)
    return tuple(chosen.values())


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
    except Refused as refused:
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
            seat = seat_at(tokens, index)
            if seat is not None and 1 <= seat.number <= MAX_SEAT:
                seat_number = seat.number
                words = clean_text(text[tokens[seat.end - 1].end :])
    return UrgentCommand(
        seat=seat_number,
        text=excerpt(words or clean_text(text)),
        red_flag=True,
        implicit=True,
        report=report,
        report_error=report_error,
        others=_other_members(seat_number, _red_flag_notes(report)),
    )


# --- the whole message ---------------------------------------------------------------------


def _whole_message_keyword(text: str) -> Parsed | None:
    """Opt-out, opt-in and help words, which act only as the whole message."""
    if set(text.strip()) <= {"?", " "}:
        return Parsed(HelpCommand(), None, None)
    bare = clean_text(text)
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
    bare = clean_text(text).upper()
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
        if kind in kw.COMMAND_KINDS or kind in READING_KINDS:
            return index
        if kind in (Lex.NUMBER, Lex.PAIR, Lex.GARBLED) or seat_at(tokens, index) is not None:
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
        if sounds_like_symptom(tokens):
            raise Refused(MISSING_SEAT, value=span_text(text, tokens))
        raise Refused(UNRECOGNISED, hint=_hint(text, tokens))
    kind = tokens[head].kind
    rest = tokens[head + 1 :]
    if kind is Kind.ATTEND:
        return read_attendance(rest)
    if kind is Kind.ACK:
        return AckCommand(code=read_ack_code(text, rest))
    if kind is Kind.HELP:
        return HelpCommand()
    if kind is Kind.MOVE:
        return read_move(text, rest)
    if kind is Kind.SKIP:
        return SkipExchangeCommand()
    if kind is Kind.STABLE or kind is Kind.OTHERS:
        return ReportReader(text, tokens).read(head)
    if all(token.is_integer or token.kind in FILLER for token in tokens) and not any(
        token.kind in (Kind.SEAT_PREFIX, Kind.SEAT_SUFFIX) for token in tokens
    ):
        raise Refused(UNRECOGNISED, hint="numbers")
    return ReportReader(text, tokens).read(head)


def _parse(message: str) -> Parsed:
    raw = message
    message = message.strip()
    if len(message) > MAX_INPUT_CHARS:
        return _too_long(message)
    # NFKC can lengthen text (one ligature becomes up to 18 characters): bound it again.
    text = normalise(message)[: 2 * MAX_INPUT_CHARS]
    if not text.strip():
        return Parsed(None, ParseError(EMPTY), None)
    if is_garbage(raw, text):
        return _garbage(text)
    keyword = _whole_message_keyword(text) or read_case_command(text)
    if keyword is not None:
        return keyword
    tokens = tokenise(text)
    language = language_of(tokens)
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
    except Refused as refused:
        command, error = None, refused.error
    if flag is not None:
        if isinstance(command, AckCommand) and command.code is not None:
            return Parsed(command, None, language)
        report = command if isinstance(command, WeeklyReportCommand) else None
        report_error = error if error is not None and error.code in _READING_ERRORS else None
        urgent = _implicit_urgent(text, tokens, flag, report, report_error)
        return Parsed(urgent, None, language)
    return Parsed(command, error, language)


def _garbage(text: str) -> Parsed:
    """A message holding what no person types (markup, undecodable bytes, control
    characters) is refused and changes nothing, unless it is urgent: then the alert still
    goes out, but a report it carries is not recorded."""
    tokens = tokenise(text)
    language = language_of(tokens)
    unreadable = ParseError(UNRECOGNISED, {"hint": None})
    flag = red_flag_match(text)
    at = next((i for i, token in enumerate(tokens) if token.kind is Kind.URGENT), None)
    if at is not None:
        command = _urgent(text, tokens, at, flag, carry_report=False)
    elif flag is not None:
        command = _implicit_urgent(text, tokens, flag, None)
    else:
        return Parsed(None, unreadable, language)
    return Parsed(replace(command, report=None, report_error=unreadable), None, language)


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
        return Parsed(None, too_long, language_of(tokens[:200]))
    anchor = min(
        position
        for position in (urgent.start if urgent else None, flag.start() if flag else None)
        if position is not None
    )
    start = max(0, anchor - 60)
    while 0 < start < anchor and not is_separator(scanned[start - 1]):
        start += 1  # begin at a word, not inside a number or a seat
    window = scanned[start : start + MAX_INPUT_CHARS]
    tokens = tokenise(window)
    language = language_of(tokens)
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
    | {word for word in (*CLOSE_WORDS, *FOLLOWUP_WORDS) if word.isascii()}
    | {"DONE", "CLOSE", "FOLLOWUP", "FOLLOW", "UP"}
)


def keywords_only(text: str, code: str | None = None) -> bool:
    """Whether every Latin word of `text` is one of the grammar's keywords or a single
    letter (`OK`, `OK 5 BP150/95`, `ACK K7Q`, `DONE SZ8 home`, `STOP`), `code` (the case
    code the command names) aside. Chinese volunteers and doctors type these too, so
    such a text says nothing of the language its writer reads."""
    scanned = normalise(text[:MAX_URGENT_SCAN_CHARS])
    if code:
        scanned = re.sub(
            rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])", " ", scanned, flags=re.I
        )
    words = re.findall(r"[A-Za-z]+", scanned)
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


def is_urgent(text: str) -> bool:
    """Whether `text` is urgent as the grammar reads it (`急 5 胸痛`, a red flag), for
    paths that cannot apply it (the database is down, the handler failed): `着急`
    and `急性` are not."""
    return isinstance(parse(text).command, UrgentCommand)


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
