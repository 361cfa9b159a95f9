"""What a parsed SMS means: plain data produced by `notifications.sms.grammar.parse`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from typing import Any

from grids.core.vocabulary import MemberEvent

__all__ = ["MemberEvent"]


@dataclass(frozen=True)
class BloodPressure:
    systolic: int
    diastolic: int


@dataclass(frozen=True)
class MemberItem:
    """What a report says of the member in `seat`."""

    seat: int
    blood_pressure: BloodPressure | None = None
    glucose_mmol: Decimal | None = None
    events: tuple[MemberEvent, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class WeeklyReportCommand:
    """`好` / `OK` (all stable), optionally with exceptions; or member items alone."""

    all_stable: bool
    items: tuple[MemberItem, ...] = ()


@dataclass(frozen=True)
class UrgentMember:
    """A further member the same urgent message is about, and what was said of them."""

    seat: int
    text: str


@dataclass(frozen=True)
class UrgentCommand:
    """`急 5 胸痛`. `implicit` when a report named a red-flag symptom without `急`.

    `seat` is the number written for the member (checked against the grid by the
    caller: `急 25 胸痛` names a member who cannot be found, not the sender); None when
    none was written."""

    seat: int | None
    text: str
    red_flag: bool = False
    implicit: bool = False
    report: WeeklyReportCommand | None = None
    """The weekly report the same message carried (`好 5 胸闷`, `好 5 血压150/95 急 7
    胸痛` are a report and an urgent case), to be applied as well; None when none."""
    report_error: ParseError | None = None
    """Why a report the message carried could not be read (a reading out of range, a
    message too long): the sender is told it was not recorded."""
    others: tuple[UrgentMember, ...] = ()
    """Other members the message reports urgently (`好 3 昏迷 4 胸痛`, `急 5 胸痛 急 6
    昏迷`): each is a case of their own, so no member's alarm is folded into another's."""


@dataclass(frozen=True)
class AttendanceCommand:
    """`到 15` (a headcount) or `到 1 2 3` (the seats present)."""

    headcount: int
    seats: tuple[int, ...] = ()


@dataclass(frozen=True)
class AckCommand:
    code: str | None = None


@dataclass(frozen=True)
class CloseCaseCommand:
    """`结 K7Q 转诊`: close case `code` with `outcome` (home, referred, admitted, died, false)."""

    code: str
    outcome: str


@dataclass(frozen=True)
class FollowupCommand:
    """`复 K7Q 好转`: the referral follow-up of case `code` (better, worse, admitted, died)."""

    code: str
    result: str


@dataclass(frozen=True)
class HelpCommand:
    pass


@dataclass(frozen=True)
class OptOutCommand:
    keyword: str


@dataclass(frozen=True)
class OptInCommand:
    keyword: str


@dataclass(frozen=True)
class MoveExchangeCommand:
    """`改 周四 19:00` (weekday 0=Monday) or `改 明天 19:00` (days_ahead=1)."""

    at: time
    weekday: int | None = None
    days_ahead: int | None = None


@dataclass(frozen=True)
class SkipExchangeCommand:
    pass


Command = (
    WeeklyReportCommand
    | UrgentCommand
    | AttendanceCommand
    | AckCommand
    | CloseCaseCommand
    | FollowupCommand
    | HelpCommand
    | OptOutCommand
    | OptInCommand
    | MoveExchangeCommand
    | SkipExchangeCommand
)


@dataclass(frozen=True)
class ParseError:
    """Why a message was not understood. `code` names catalogue text `sms.error.<code>`."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parsed:
    """The result of parsing: a command or an error, and the language the text was in
    (`zh_CN`, `en`, or None when it cannot be told, e.g. digits only)."""

    command: Command | None
    error: ParseError | None
    language: str | None
